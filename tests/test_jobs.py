"""Enqueueing from requests: in-process without a broker, kept in the database when the broker refuses."""

import datetime as dt
import socket
import time
from decimal import Decimal

import pytest
from kombu.exceptions import OperationalError

from lots import certificates
from lots import services as lot_services
from lots.models import Certificate
from lots.tasks import lot_certificate_refresh_task
from moira.celery import app as celery_app
from moira.jobs import enqueue, pending_jobs_resend
from moira.models import PendingJob


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe closes


def _drop_broker_connections() -> None:
    # Only the references: kombu keeps one pool per address for the whole process, and a closed one stays closed.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def refusing_broker():
    """This process publishes to a Redis address where nothing listens, as when Redis is down."""
    saved = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    celery_app.conf.broker_url = f"redis://127.0.0.1:{_closed_port()}/0"
    celery_app.conf.task_always_eager = False
    _drop_broker_connections()
    yield
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = saved
    _drop_broker_connections()


@pytest.fixture
def weighed_lot(plant, manager):
    lot = lot_services.lot_create(plant=plant, code="Q", processed_mass_kg=Decimal("1000"), actor=manager)
    certificates.lot_certificate(lot)
    lot_services.output_record(lot=lot, fraction="magnetic", mass_kg=Decimal("700"),
                               weighed_at=dt.datetime(2024, 5, 1, tzinfo=dt.UTC), actor=manager)
    return lot


def test_without_a_broker_the_job_runs_in_process(weighed_lot):
    enqueue(lot_certificate_refresh_task, weighed_lot.pk)
    assert Certificate.objects.filter(lot=weighed_lot).count() == 2
    assert not PendingJob.objects.exists()


def test_a_refused_job_is_kept_once_quickly_and_runs_when_resent(refusing_broker, weighed_lot):
    started = time.monotonic()
    enqueue(lot_certificate_refresh_task, weighed_lot.pk)
    enqueue(lot_certificate_refresh_task, weighed_lot.pk)
    assert time.monotonic() - started < 3
    kept = PendingJob.objects.get()
    assert (kept.task_name, kept.args) == ("lots.tasks.lot_certificate_refresh_task", [weighed_lot.pk])
    assert "Connection refused" in kept.error
    assert Certificate.objects.filter(lot=weighed_lot).count() == 1

    with pytest.raises(OperationalError):  # still down: the job stays for the next round
        pending_jobs_resend()
    assert PendingJob.objects.count() == 1

    celery_app.conf.task_always_eager = True  # the broker is back (here: the in-process one)
    assert pending_jobs_resend() == 1
    assert not PendingJob.objects.exists()
    assert Certificate.objects.filter(lot=weighed_lot).count() == 2
