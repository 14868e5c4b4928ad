import pytest
from django.core.management import CommandError, call_command

from audit import chain
from audit.models import Event


def _entries(n):
    rows, previous = [], chain.GENESIS_HASH
    for i in range(n):
        fields = {"action": "x", "n": i}
        digest = chain.entry_hash(previous, fields)
        rows.append((i + 1, previous, digest, fields))
        previous = digest
    return rows


def test_intact_chain_has_no_broken_link():
    assert chain.first_broken_link(_entries(5)) is None


def test_changed_content_breaks_its_own_link():
    rows = _entries(5)
    entry_id, previous, digest, fields = rows[2]
    rows[2] = (entry_id, previous, digest, {**fields, "n": 99})
    assert chain.first_broken_link(rows) == chain.BrokenLink(3, "content does not match its hash")


def test_removed_entry_breaks_the_next_link():
    rows = _entries(5)
    del rows[1]
    assert chain.first_broken_link(rows).entry_id == 3


def test_verify_log_command_reports_the_first_tampered_entry(manager_api, plant, capsys):
    for code in ("L1", "L2", "L3"):
        assert manager_api.post("/api/v1/lots/", {"plant": plant.pk, "code": code, "processed_mass_kg": "100"}, format="json").status_code == 201
    call_command("verify_log")
    assert "intact" in capsys.readouterr().out
    victim = Event.objects.filter(action="lot.create").order_by("id")[1]
    Event.objects.filter(pk=victim.pk).update(payload={**victim.payload, "processed_mass_kg": "1"})
    with pytest.raises(CommandError, match=f"#{victim.pk}"):
        call_command("verify_log")


def test_verify_log_notices_removed_newest_entries(manager_api, plant):
    manager_api.post("/api/v1/lots/", {"plant": plant.pk, "code": "L1", "processed_mass_kg": "100"}, format="json")
    Event.objects.order_by("-id").first().delete()
    with pytest.raises(CommandError, match="removed"):
        call_command("verify_log")
