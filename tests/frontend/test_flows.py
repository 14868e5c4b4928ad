"""The worker flows through the real UI, online, offline and with answers lost on the way."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from audit.models import IdempotentRequest
from lots import services
from lots.codes import display
from lots.models import Dismantling, Intake, Lot, Output, Product, ProductStatus, RemovedPart, Run, Shipment, ShipmentAlert
from tests.frontend.support import act, confirm, pending, type_code, wait_pending, wait_ready

pytestmark = pytest.mark.django_db(transaction=True)


def register_slip(page, slip: str, expected: int) -> None:
    page.goto(f"{page.url.split('#')[0]}#/intake")
    page.fill("[data-test=slip-number]", slip)
    page.fill("[data-test=expected-count]", str(expected))
    page.click("[data-test=slip-save]")
    page.wait_for_selector("[data-test=unit-form]")


def add_unit(page, code: str, maker: str, model: str, serial: str, done: int) -> None:
    page.click("[data-test=unit-scan]")
    type_code(page, display(code))
    page.fill("[data-test=maker]", maker)
    page.fill("[data-test=model]", model)
    page.fill("[data-test=serial]", serial)
    page.fill("[data-test=selections]", "30")
    page.click("[data-test=unit-save]")
    page.wait_for_function(f"document.querySelector('[data-test=unit-count]')?.textContent.startsWith('{done} /')")


def dismantle(page, code: str, pattern: str) -> None:
    page.goto(f"{page.url.split('#')[0]}#/dismantle")
    page.click("[data-test=dismantle-scan]")
    type_code(page, code)
    page.click(f"[data-test=pattern-{pattern}]")
    page.click("[data-test=dismantle-save]")
    page.wait_for_selector("[data-test=dismantle-save]", state="detached")


def reserve(page, lot_code: str, mass: str, label_codes: list[str]) -> None:
    page.goto(f"{page.url.split('#')[0]}#/reserve")
    page.fill("[data-test=lot-code]", lot_code)
    page.fill("[data-test=lot-mass]", mass)
    for code in label_codes:
        page.click("[data-test=reserve-scan]")
        type_code(page, code)
    page.click("[data-test=reserve-save]")
    page.wait_for_selector("[data-test=screen-runs]")


def tap_run(page, which: str, line_code: str) -> tuple[dt.datetime, dt.datetime]:
    """Tap start or stop and confirm; returns the wall-clock window around the tap itself."""
    before = dt.datetime.now(dt.UTC)
    page.click(f"[data-test=run-{which}-{line_code}]")
    after = dt.datetime.now(dt.UTC)
    confirm(page)
    page.wait_for_selector(f"[data-test=run-{'stop' if which == 'start' else 'start'}-{line_code}]")
    return before, after


def assert_between(moment: dt.datetime, window: tuple[dt.datetime, dt.datetime], slack: float = 0.5) -> None:
    low, high = window
    assert low - dt.timedelta(seconds=slack) <= moment <= high + dt.timedelta(seconds=slack), (moment, window)


def test_full_flow_from_intake_to_a_stopped_run(app, plant, line, worker):
    labels = services.labels_issue(plant=plant, count=2, actor=worker)
    page = app.open()
    register_slip(page, "SLIP-0001", 2)
    add_unit(page, labels[0].code, "Sanden", "SVM-A1", "S-0001", 1)
    add_unit(page, labels[1].code, "Fuji", "FVM-B2", "F-0002", 2)
    dismantle(page, labels[0].code, "pattern_2")
    reserve(page, "LOT-UI-1", "1200", [labels[0].code, labels[1].code])
    started = tap_run(page, "start", line.code)
    time.sleep(1.5)
    stopped = tap_run(page, "stop", line.code)
    wait_pending(page, 0)

    intake = Intake.objects.get()
    assert (intake.slip_number, intake.expected_count, intake.plant) == ("SLIP-0001", 2, plant)
    products = list(Product.objects.order_by("id"))
    assert [(p.maker, p.model, p.serial_number, p.selection_count, p.intake_id) for p in products] == [
        ("Sanden", "SVM-A1", "S-0001", 30, intake.pk), ("Fuji", "FVM-B2", "F-0002", 30, intake.pk)]
    assert [p.labels.get().code for p in products] == [labels[0].code, labels[1].code]
    dismantling = Dismantling.objects.get()
    assert dismantling.product == products[0] and dismantling.pattern == "pattern_2"
    assert sorted(RemovedPart.objects.values_list("part__code", flat=True)) == sorted(
        ["battery", "fluorescent_lamp", "fluorocarbons", "cooling_unit", "remote_controller", "coin_mech", "handle_lock", "rack"])
    lot = Lot.objects.get()
    assert lot.code == "LOT-UI-1" and set(lot.products.all()) == set(products)
    run = Run.objects.get()
    assert run.lot == lot and run.line == line and run.ended_at is not None
    assert_between(run.started_at, started)
    assert_between(run.ended_at, stopped)
    assert all(p.status == ProductStatus.SHREDDED for p in Product.objects.all())


def test_weigh_and_ship_from_the_app(app, plant, line, worker, buyer_org):
    lot = services.lot_create(plant=plant, code="LOT-W", processed_mass_kg=3000, actor=worker)
    page = app.open("#/weigh")
    page.click("[data-test=fraction-magnetic]")
    page.fill("[data-test=output-mass]", "2500.5")
    assert act(page, "[data-test=output-save]") == "ok"
    assert page.input_value("[data-test=output-mass]") == ""
    output = Output.objects.get()
    assert (output.lot, output.fraction, str(output.mass_kg)) == (lot, "magnetic", "2500.500")
    page.goto(f"{app.base_url}/app/#/ship")
    page.click(f"[data-test=buyer-{buyer_org.pk}]")
    page.fill("[data-test=ship-lot-LOT-W]", "2000")
    assert page.inner_text("[data-test=ship-total]") == "2000 kg"
    assert act(page, "[data-test=ship-save]") == "ok"
    shipment = Shipment.objects.get()
    assert (shipment.buyer, str(shipment.mass_kg)) == (buyer_org, "2000.000")
    assert [(a.lot, str(a.mass_kg)) for a in shipment.allocations.all()] == [(lot, "2000.000")]


def test_a_shipment_that_breaks_the_buyers_conditions_is_flagged_before_it_leaves(app, plant, line, worker, buyer_org):
    services.lot_create(plant=plant, code="LOT-X", processed_mass_kg=3000, actor=worker)  # no units: Cu/Cr unknown
    services.acceptance_condition_create(plant=plant, buyer=buyer_org, grade_label="Cu2-Cr2", actor=worker)
    page = app.open("#/ship")
    page.click(f"[data-test=buyer-{buyer_org.pk}]")
    page.fill("[data-test=ship-lot-LOT-X]", "1000")
    page.click("[data-test=ship-save]")
    question = page.wait_for_selector("[data-test=ask]").inner_text()
    assert "Cu grade is unknown" in question and "買い手に通知しました" in question
    alert = ShipmentAlert.objects.get()
    assert (alert.buyer, alert.allocations, alert.shipment) == (buyer_org, [{"lot": "LOT-X", "mass_kg": "1000.000"}], None)
    page.click("[data-test=ask-no]")
    assert "Cu grade is unknown" in page.inner_text("[data-test=ship-verdict-broken]")
    assert not Shipment.objects.exists()

    page.evaluate("document.getElementById('toast').replaceChildren()")
    page.click("[data-test=ship-save]")
    confirm(page)  # ship anyway: the buyer was told
    assert page.wait_for_selector("#toast [data-test^=toast-]").get_attribute("data-test") == "toast-ok"
    shipment = Shipment.objects.get()
    alert.refresh_from_db()
    assert alert.shipment == shipment and ShipmentAlert.objects.count() == 1


def test_the_network_cut_halfway_loses_nothing_and_doubles_nothing(app, plant, line, worker):
    labels = services.labels_issue(plant=plant, count=2, actor=worker)
    page = app.open()
    register_slip(page, "SLIP-OFF", 2)
    add_unit(page, labels[0].code, "Sanden", "SVM-A1", "S-0001", 1)
    assert pending(page) == 0

    app.context.set_offline(True)
    add_unit(page, labels[1].code, "Sanden", "SVM-A1", "S-0002", 2)  # made offline...
    dismantle(page, labels[1].code, "pattern_1")  # ...and dismantled before the server knows it
    reserve(page, "LOT-OFF", "900", [labels[0].code, labels[1].code])
    started = tap_run(page, "start", line.code)
    time.sleep(1.2)
    stopped = tap_run(page, "stop", line.code)
    assert pending(page) == 5
    assert page.inner_text("[data-test=net-state]") == "オフライン"
    assert (Product.objects.count(), Dismantling.objects.count(), Lot.objects.count(), Run.objects.count()) == (1, 0, 0, 0)
    page.reload()  # the queue is on the phone, not in the page
    wait_ready(page)
    assert pending(page) == 5
    time.sleep(1.5)  # the taps are well before the replay

    app.context.set_offline(False)
    page.click("[data-test=sync-now]")
    wait_pending(page, 0)
    page.click("[data-test=sync-now]")  # again, and reopen the app: nothing is sent twice
    page.reload()
    wait_ready(page)
    assert pending(page) == 0
    assert page.locator("[data-test=attention-count]").count() == 0

    assert (Intake.objects.count(), Product.objects.count(), Dismantling.objects.count(), Lot.objects.count(), Run.objects.count()) == (1, 2, 1, 1, 1)
    second = Product.objects.get(serial_number="S-0002")
    assert second.labels.get().code == labels[1].code
    assert Dismantling.objects.get().product == second
    assert set(Lot.objects.get().products.all()) == set(Product.objects.all())
    run = Run.objects.get()
    assert_between(run.started_at, started)  # the time of the tap, not of the replay
    assert_between(run.ended_at, stopped)
    kept = IdempotentRequest.objects.filter(path__endswith="/stop/").get()
    assert kept.device_time is not None and kept.device_clock_offset_ms is not None


def test_a_lost_answer_is_replayed_not_doubled(make_app, worker, plant, catalogue):
    labels = services.labels_issue(plant=plant, count=1, actor=worker)
    intake = services.intake_create(plant=plant, slip_number="SLIP-LOST", received_on=dt.date(2026, 1, 5), expected_count=5, actor=worker)
    app = make_app(worker, service_workers="block")  # so that the page's own requests can be intercepted
    page = app.open()
    lost = []

    def drop_the_answer(route):
        if route.request.method == "POST" and not lost:
            route.fetch()  # the server does the work...
            lost.append(route.request.headers["idempotency-key"])
            route.abort("connectionreset")  # ...and the phone never hears back
        else:
            route.continue_()

    page.route("**/api/v1/products/", drop_the_answer)
    page.evaluate(f"localStorage.setItem('moira.intake', JSON.stringify({{id: {intake.pk}, key: null, slip_number: 'SLIP-LOST', "
                  f"expected_count: 5, plant: {plant.pk}, baseline: 0, openedAt: 0}}))")
    page.goto(f"{app.base_url}/app/#/intake")
    page.wait_for_selector("[data-test=unit-form]")
    add_unit(page, labels[0].code, "Sanden", "SVM-A1", "S-LOST", 1)
    assert lost and Product.objects.count() == 1
    assert pending(page) == 1  # the phone does not know it arrived
    page.click("[data-test=sync-now]")
    wait_pending(page, 0)
    assert Product.objects.count() == 1
    assert Product.objects.get().labels.get().code == labels[0].code
    assert page.locator("[data-test=attention-count]").count() == 0


def test_a_rejected_action_is_kept_with_the_servers_reason(app, plant, worker):
    services.intake_create(plant=plant, slip_number="SLIP-DUP", received_on=dt.date(2026, 1, 5), expected_count=3, actor=worker)
    page = app.open()
    app.context.set_offline(True)
    register_slip(page, "SLIP-DUP", 3)  # the phone cannot know the slip exists
    page.click("[data-test=unit-save]")
    confirm(page)  # a unit without a label, under the slip made offline
    wait_pending(page, 2)
    app.context.set_offline(False)
    page.click("[data-test=sync-now]")
    wait_pending(page, 0)
    page.wait_for_selector("[data-test=attention-count][data-count='2']")
    page.goto(f"{app.base_url}/app/#/queue")
    page.wait_for_selector("[data-test=attention-reason] >> nth=1")
    reasons = page.locator("[data-test=attention-reason]").all_inner_texts()
    assert any("SLIP-DUP" in reason and "registered already" in reason for reason in reasons), reasons
    assert any("先の操作" in reason for reason in reasons), reasons  # the unit waits for its slip and says so
    assert Product.objects.count() == 0 and Intake.objects.count() == 1
    # the worker discards the slip; the unit that needed it stays in the list until discarded too
    page.locator("[data-test=attention-item]").first.locator("[data-test=attention-discard]").click()
    confirm(page)
    page.wait_for_selector("[data-test=attention-count][data-count='1']")


def test_run_times_are_corrected_by_the_measured_clock_offset(make_app, worker, plant, line, catalogue):
    lot = services.lot_create(plant=plant, code="LOT-CLOCK", processed_mass_kg=1000, actor=worker)
    app = make_app(worker)
    page = app.context.new_page()
    page.clock.set_system_time(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1, minutes=3))  # a phone an hour behind
    app.open("#/settings", page=page)
    page.wait_for_function("JSON.parse(localStorage.getItem('moira.clock') || 'null')?.offsetMs > 3700000")
    page.goto(f"{app.base_url}/app/#/runs")
    page.click(f"[data-test=lot-choice-id{lot.pk}]")
    started = tap_run(page, "start", line.code)
    wait_pending(page, 0)
    run = Run.objects.get()
    assert_between(run.started_at, started, slack=1.0)
    kept = IdempotentRequest.objects.get(path__endswith="/runs/")
    assert abs(kept.device_clock_offset_ms - 63 * 60 * 1000) < 2000
    assert abs((run.started_at - kept.device_time).total_seconds() - 63 * 60) < 2
