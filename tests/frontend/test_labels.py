"""Labels from the app: print a PDF sheet of new codes, and relabel a unit with the reason recorded."""

from __future__ import annotations

import pytest

from lots import services
from lots.codes import display
from lots.models import Label, LabelStatus, Relabelling
from tests.frontend.support import type_code, wait_pending

pytestmark = pytest.mark.django_db(transaction=True)


def test_print_a_sheet_of_new_labels(app, plant):
    page = app.open("#/label")
    page.fill("[data-test=sheet-count]", "12")
    with app.context.expect_page() as opened:
        page.click("[data-test=sheet-open]")
    sheet = opened.value
    sheet.wait_for_load_state()
    assert "/labels/sheet.pdf?plant=" in sheet.url and "ids=" in sheet.url
    assert Label.objects.filter(plant=plant, status=LabelStatus.ISSUED).count() == 12


def test_relabel_a_faded_label_with_its_reason(app, plant, worker):
    old, new = services.labels_issue(plant=plant, count=2, actor=worker)
    product = services.product_create(plant=plant, kind="vending_machine", maker="Sanden", label_code=old.code, actor=worker)
    page = app.open("#/label")
    page.click("[data-test=relabel-pick]")
    type_code(page, old.code)
    page.click("[data-test=relabel-scan]")
    type_code(page, display(new.code))
    page.click("[data-test=relabel-reason-faded]")
    page.fill("[data-test=relabel-other]", "yard, south side")
    page.click("[data-test=relabel-save]")
    page.wait_for_selector("[data-test=relabel-save]", state="detached")
    wait_pending(page, 0)
    relabelling = Relabelling.objects.get()
    assert (relabelling.product, relabelling.reason) == (product, "faded (UV): yard, south side")
    assert product.labels.get(status=LabelStatus.ATTACHED).code == new.code
    assert Label.objects.get(pk=old.pk).status == LabelStatus.RETIRED
