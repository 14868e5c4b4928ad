"""Two writes to one plant at once do not deadlock on PostgreSQL (found by bench/load.py under 10 workers)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from audit.services import event_append
from lots import services
from lots.models import Lot, Run

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


def test_stopping_a_run_while_another_write_to_the_plant_commits(plant, line, worker):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite has none): set DATABASE_URL=postgres://...")
    lot = services.lot_create(plant=plant, code="LOT-L", processed_mass_kg=Decimal("500"), actor=worker)
    run = services.run_start(lot=lot, line=line, started_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5), actor=worker)
    head_taken, outcome = threading.Event(), {}

    def another_write():
        # Holds the audit chain head, then inserts a row referencing the plant: its foreign key is checked at commit.
        try:
            with transaction.atomic():
                event_append(action="test.hold", obj=lot, actor=worker, plant=plant)
                head_taken.set()
                deadline = time.monotonic() + 10
                while not _waiting_for_a_lock() and time.monotonic() < deadline:
                    time.sleep(0.05)  # until the stop waits for the chain head
                Lot.objects.create(plant=plant, code="LOT-M", processed_mass_kg=Decimal("1"))
            outcome["write"] = "committed"
        except Exception as error:
            outcome["write"] = repr(error)
        finally:
            connection.close()

    thread = threading.Thread(target=another_write)
    thread.start()
    assert head_taken.wait(10)
    try:
        services.run_stop(run=run, ended_at=dt.datetime.now(dt.UTC), actor=worker)
        outcome["stop"] = "committed"
    except Exception as error:
        outcome["stop"] = repr(error)
    thread.join(20)
    assert outcome == {"write": "committed", "stop": "committed"}
    assert Run.objects.get(pk=run.pk).ended_at is not None
