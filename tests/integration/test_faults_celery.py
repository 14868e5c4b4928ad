"""Faults around Celery and Redis, on a private redis-server that the tests stop and start at will.

A worker killed mid-allocation: the half-done transaction vanishes and the broker redelivers the task (late
acks, a short visibility timeout), which then does the whole allocation once. Redis down: workers' actions
are answered and stored at once, their jobs are kept in the database and run when Redis is back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from rest_framework.test import APIClient

from audit.models import Event
from audit.services import log_verify
from lots import certificates
from lots import services as lot_services
from lots.models import Certificate, Output, Run
from lots.selectors import lot_certificate_content
from moira.celery import app as celery_app
from moira.models import PendingJob
from power import services as power_services
from power.models import Logger, Reading, RunEnergy, Upload
from tests.conftest import client_for
from tests.integration.conftest import ROOT, wait_for

pytestmark = pytest.mark.integration

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
PW3360 = (Path(__file__).resolve().parents[1] / "fixtures" / "pw3360" / "pw3360-3p3w-utf8.CSV").read_bytes()
JST = dt.timezone(dt.timedelta(hours=9))
# Short enough for a test, long enough that the blocked task is never redelivered while its worker lives.
VISIBILITY_TIMEOUT_S = 2
ACTION_BOUND_S = 3.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test alone (no persistence), on a port chosen now, that can go down and come back."""

    def __init__(self, workdir: Path):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(self.answers, timeout_s=10, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1)

    def unacked_task_ids(self) -> list[str]:
        """Tasks a worker took and has not acknowledged (kombu keeps them in the `unacked` hash)."""
        return [json.loads(raw)[0]["headers"]["id"] for raw in self.client().hvals("unacked")]


def _test_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Celery:
    """Worker and beat subprocesses on the private Redis and the test database; each logs to its own file."""

    def __init__(self, private_redis: PrivateRedis, logs: Path):
        self.redis, self.logs = private_redis, logs
        self.processes: list[subprocess.Popen] = []

    def _start(self, name: str, args: list[str], extra_env: dict | None = None) -> subprocess.Popen:
        env = {**os.environ, "DATABASE_URL": _test_database_url(), "REDIS_URL": self.redis.url,
               "CELERY_VISIBILITY_TIMEOUT_S": str(VISIBILITY_TIMEOUT_S), **(extra_env or {})}
        with open(self.logs / f"{name}.log", "w") as log:
            process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "moira", *args], cwd=ROOT, env=env,
                                       stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def worker(self, name: str) -> subprocess.Popen:
        return self._start(name, ["worker", "--pool=solo", "--loglevel=INFO", "--without-heartbeat", "--without-gossip",
                                  "--without-mingle", f"--hostname={name}@%h"])

    def beat(self, resend_every_s: int) -> subprocess.Popen:
        return self._start("beat", ["beat", "--loglevel=INFO", f"--schedule={self.logs / 'beat-schedule'}", "--pidfile="],
                           {"MOIRA_PENDING_JOBS_RESEND_S": str(resend_every_s)})

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def private_redis(transactional_db, tmp_path):
    """The private Redis, with this process's Celery app publishing to it for the test's length."""
    if connection.vendor != "postgresql":
        pytest.skip("fault tests need PostgreSQL: set DATABASE_URL=postgres://... (make test does when it is up)")
    if not Path(REDIS_SERVER).exists():
        pytest.skip(f"fault tests start their own Redis and need {REDIS_SERVER} (apt install redis-server)")
    server = PrivateRedis(tmp_path)
    server.start()
    saved = celery_app.conf.broker_url
    celery_app.conf.broker_url = server.url
    _drop_broker_connections()
    try:
        yield server
    finally:
        celery_app.conf.broker_url = saved
        _drop_broker_connections()
        server.stop()


def _drop_broker_connections() -> None:
    """Forget pooled connections so that the next publish connects to the broker now configured."""
    # Only the references: kombu keeps one pool per address for the whole process, and a closed one stays closed.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def celery_processes(private_redis, tmp_path):
    processes = Celery(private_redis, tmp_path)
    yield processes
    processes.stop_all()


@pytest.fixture
def logger(plant, line):
    return Logger.objects.create(plant=plant, line=line, code="A-11", multiplier=Decimal("1000"))


@pytest.fixture
def crawler_api(plant):
    _, key = power_services.crawler_token_create(plant=plant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {key}")
    return client


def _post_logger_file(crawler_api):
    return crawler_api.post("/api/v1/power/uploads/", {"logger": "A-11", "sha256": hashlib.sha256(PW3360).hexdigest(),
                                                       "file": SimpleUploadedFile("03020000.CSV", PW3360)}, format="multipart")


@contextlib.contextmanager
def _row_locked(table: str, pk: int):
    """Hold FOR UPDATE on one row from a connection of our own, as another transaction would."""
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"] or None,
                         dbname=db["NAME"], autocommit=False) as holder:
        holder.execute(f'SELECT 1 FROM "{table}" WHERE id = %s FOR UPDATE', [pk])
        try:
            yield
        finally:
            holder.rollback()


def _backend_blocked_updating(table: str) -> int | None:
    """The database session waiting for our lock inside a transaction that has already written (it has an xid)."""
    with connection.cursor() as cursor:
        cursor.execute("""SELECT pid FROM pg_stat_activity
                          WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
                            AND backend_xid IS NOT NULL AND query LIKE %s""", [f'UPDATE "{table}"%'])
        row = cursor.fetchone()
    return row[0] if row else None


def _tables_written_by(pid: int) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relation::regclass::text FROM pg_locks WHERE pid = %s AND mode = 'RowExclusiveLock' AND relation IS NOT NULL",
                       [pid])
        return {row[0] for row in cursor.fetchall()}


def _session_gone(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 0


def _energy_rows(lot) -> dict[int, tuple]:
    return {e.run_id: (e.energy_kwh, e.covered_s, e.expected_s, e.logger_count) for e in RunEnergy.objects.filter(run__lot=lot)}


def _figures_from_the_set_based_path(lot) -> dict[int, tuple]:
    """Every run's energy by the one-statement SQL of `runs_allocate_all`, written apart from the run-by-run code."""
    with transaction.atomic():
        power_services.runs_allocate_all()
        figures = _energy_rows(lot)
        transaction.set_rollback(True)
    return figures


def _fresh_certificate_content(lot) -> dict:
    return json.loads(json.dumps(lot_certificate_content(lot)))


def _succeeded(task_name: str, worker_log: str) -> bool:
    return re.search(rf"{re.escape(task_name)}\[[0-9a-f-]+\] succeeded", worker_log) is not None


def _current_certificate(lot) -> Certificate:
    return Certificate.objects.filter(lot=lot).order_by("-revision").first()


def test_a_worker_killed_mid_allocation_leaves_nothing_half_done_and_the_redelivered_task_finishes_it(
        private_redis, celery_processes, crawler_api, logger, plant, line, manager):
    lot = lot_services.lot_create(plant=plant, code="KILL", processed_mass_kg=Decimal("2000"), actor=manager)
    for start, end in [((6, 0), (6, 10)), ((6, 10), (6, 25))]:
        lot_services.run_start(lot=lot, line=line, started_at=dt.datetime(2026, 3, 2, *start, tzinfo=JST),
                               ended_at=dt.datetime(2026, 3, 2, *end, tzinfo=JST), actor=manager)
    shown = certificates.lot_certificate(lot)
    assert shown.revision == 1 and shown.payload["energy_kwh"] is None

    # The task writes both runs' energy, issues revision 2, then must mark revision 1 superseded: it waits there.
    with _row_locked("lots_certificate", shown.pk):
        first = celery_processes.worker("first")
        assert _post_logger_file(crawler_api).status_code == 201
        wait_for(lambda: _backend_blocked_updating("lots_certificate") is not None, timeout_s=60,
                 what="the allocation to block on the certificate row")
        blocked_pid = _backend_blocked_updating("lots_certificate")
        assert {"power_runenergy", "lots_certificate"} <= _tables_written_by(blocked_pid)
        taken = private_redis.unacked_task_ids()
        assert len(taken) == 1, taken
        task_id = taken[0]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()
    # Our lock is gone: the orphaned session runs on until it finds its client dead, then rolls back.
    wait_for(lambda: _session_gone(blocked_pid), timeout_s=30, what="the killed worker's database session to end")

    assert RunEnergy.objects.filter(run__lot=lot).count() == 0
    assert list(Certificate.objects.filter(lot=lot).values_list("revision", "superseded_by")) == [(1, None)]
    assert private_redis.unacked_task_ids() == [task_id], "late acks: the killed worker never acknowledged the task"

    # A worker's first sweep for expired messages scans, the next scan is ten sweeps later: let the timeout pass first.
    time.sleep(max(0.0, killed_at + VISIBILITY_TIMEOUT_S + 0.5 - time.monotonic()))
    celery_processes.worker("second")
    wait_for(lambda: Certificate.objects.filter(lot=lot, revision=2).exists(), timeout_s=60, what="the redelivered allocation")
    wait_for(lambda: not private_redis.unacked_task_ids() and private_redis.client().llen("celery") == 0, timeout_s=30,
             what="the redelivered task's acknowledgement")
    second_log = celery_processes.log("second")
    assert f"power.tasks.runs_allocate_task[{task_id}] succeeded" in second_log, second_log[-3000:]

    figures = _energy_rows(lot)
    assert figures == _figures_from_the_set_based_path(lot)
    assert len(figures) == 2 and all(energy is not None and covered == expected for energy, covered, expected, _ in figures.values())
    revisions = list(Certificate.objects.filter(lot=lot).order_by("revision"))
    assert [c.revision for c in revisions] == [1, 2]
    newer = revisions[1]
    assert revisions[0].superseded_by_id == newer.pk and newer.superseded_by_id is None
    assert newer.payload == {**_fresh_certificate_content(lot), "revision": 2}
    assert Decimal(newer.payload["energy_kwh"]) == sum(energy for energy, *_ in figures.values())
    issued = Event.objects.filter(action="certificate.issue", object_type="lots.certificate")
    assert sorted(issued.values_list("object_id", flat=True)) == sorted(str(c.pk) for c in revisions)
    assert log_verify()[1] is None


def test_with_redis_down_actions_are_answered_and_kept_and_their_jobs_run_when_it_returns(
        private_redis, celery_processes, crawler_api, logger, plant, line, manager, worker):
    worker_api = client_for(worker)
    lot = lot_services.lot_create(plant=plant, code="DOWN", processed_mass_kg=Decimal("1000"), actor=manager)
    certificates.lot_certificate(lot)
    celery_processes.worker("worker")
    celery_processes.beat(resend_every_s=1)
    # A first job while Redis is up: this process, the worker and beat then hold connections that the outage breaks.
    response = worker_api.post(f"/api/v1/lots/{lot.pk}/runs/", {"line": line.pk, "started_at": "2026-03-02T06:00:00+09:00"},
                               format="json")
    assert response.status_code == 201
    run = Run.objects.get(pk=response.json()["id"])
    wait_for(lambda: _succeeded("power.tasks.runs_allocate_task", celery_processes.log("worker")), timeout_s=60,
             what="the worker to run the first job")
    shown = _current_certificate(lot)  # the open run is on it now
    private_redis.stop()

    def timed(action):
        started = time.monotonic()
        response = action()
        return response, time.monotonic() - started

    upload, upload_s = timed(lambda: _post_logger_file(crawler_api))
    stop, stop_s = timed(lambda: worker_api.post(f"/api/v1/runs/{run.pk}/stop/", {"ended_at": "2026-03-02T06:10:00+09:00"},
                                                 format="json"))
    weight, weight_s = timed(lambda: worker_api.post("/api/v1/outputs/", {"lot": lot.pk, "fraction": "magnetic", "mass_kg": "800",
                                                                          "weighed_at": "2026-03-02T15:00:00+09:00"}, format="json"))
    assert (upload.status_code, stop.status_code, weight.status_code) == (201, 200, 201), (upload.json(), stop.json(), weight.json())
    assert max(upload_s, stop_s, weight_s) < ACTION_BOUND_S, (upload_s, stop_s, weight_s)
    assert Upload.objects.get(pk=upload.json()["id"]).reading_count == Reading.objects.filter(logger=logger).count() > 0
    run.refresh_from_db()
    assert run.ended_at == dt.datetime(2026, 3, 2, 6, 10, tzinfo=JST)
    assert Output.objects.filter(lot=lot, fraction="magnetic", mass_kg=Decimal("800")).exists()
    # The same allocation asked twice (file and stop) is kept once.
    assert sorted(PendingJob.objects.values_list("task_name", "args")) == [
        ("lots.tasks.lot_certificate_refresh_task", [lot.pk]), ("power.tasks.runs_allocate_task", [[run.pk]])]
    assert not RunEnergy.objects.filter(run=run).exists() and _current_certificate(lot) == shown

    # Nobody restarts the worker or beat: they reconnect by themselves.
    private_redis.start()
    wait_for(lambda: not PendingJob.objects.exists(), timeout_s=60, what="beat and the worker to resend the kept jobs")
    wait_for(lambda: RunEnergy.objects.filter(run=run).exists()
             and _current_certificate(lot).payload == {**_fresh_certificate_content(lot), "revision": _current_certificate(lot).revision},
             timeout_s=60, what="the kept jobs to run")

    worker_log = celery_processes.log("worker")
    assert "Connection to broker lost" in worker_log, worker_log[-3000:]
    after_outage = worker_log.split("Connection to broker lost", 1)[1]
    for task in ("moira.tasks.pending_jobs_resend_task", "power.tasks.runs_allocate_task", "lots.tasks.lot_certificate_refresh_task"):
        assert _succeeded(task, after_outage), worker_log[-3000:]
    assert _energy_rows(lot) == _figures_from_the_set_based_path(lot)
    current = _current_certificate(lot)
    assert current.payload["energy_kwh"] == str(RunEnergy.objects.get(run=run).energy_kwh)
    assert current.payload["outputs"] == [{"fraction": "magnetic", "mass_kg": "800.000"}]
    shown.refresh_from_db()
    assert shown.superseded_by_id is not None
