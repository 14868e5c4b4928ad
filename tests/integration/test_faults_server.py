"""Faults on the server side: PostgreSQL restarted under load, and the same action pressed twice at once.

The restart test never touches the machine's PostgreSQL: it builds a private cluster (initdb) on a free port, serves
Moira from it with gunicorn, and stops and starts that cluster while client threads write and read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Event, IdempotentRequest
from lots import services as lot_services
from lots.models import Lot, Run
from moira.idempotency import CLAIM_GRACE
from power.models import Logger, Reading, Upload
from power.services import crawler_token_create
from tests.integration.conftest import at_once

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("MOIRA_PG_BIN", "/usr/lib/postgresql/15/bin"))
UTF8 = (ROOT / "tests" / "fixtures" / "pw3360" / "pw3360-3p3w-utf8.CSV").read_bytes()
REQUEST_TIMEOUT_S = 10
OUTAGE_S = 2.0
JST = dt.timezone(dt.timedelta(hours=9))


def on_postgresql() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def needs_postgresql():
    if not on_postgresql():
        pytest.skip("needs PostgreSQL (row locks, real concurrency): set DATABASE_URL=postgres://... (make test does in its PostgreSQL run)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------------------------------ a private PostgreSQL


class PrivateCluster:
    """A throw-away PostgreSQL cluster on 127.0.0.1:<free port>, trust auth; as root, its commands run as `postgres`."""

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="moira-pgfaults-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_owner:
            shutil.chown(self.dir, user="postgres")

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self.as_owner, *args], capture_output=True, text=True, timeout=60, cwd=self.dir)
        if done.returncode:
            raise AssertionError(f"{' '.join(args)} failed: {done.stdout}{done.stderr}{self.log_tail()}")

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", self.options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def restart(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", self.options, "-m", "fast", "-w", "-t", "30", "restart")

    def createdb(self, name: str) -> None:
        self._run(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_owner, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60, cwd=self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)


def restart_skip_reason() -> str | None:
    if not on_postgresql():
        return "the PostgreSQL restart test runs in the PostgreSQL pass: set DATABASE_URL=postgres://... (make test does)"
    missing = [name for name in ("initdb", "pg_ctl", "createdb") if not (PG_BIN / name).exists()]
    if missing:
        return f"PostgreSQL server binaries {missing} not found in {PG_BIN} (set MOIRA_PG_BIN)"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "initdb refuses root and runuser is missing to run it as postgres"
    return None


SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from plants.models import Membership, Organisation, Plant, Role
org = Organisation.objects.create(code="fault-org", name="Fault Org")
plant = Plant.objects.create(organisation=org, code="fault-plant", name="Fault Plant", timezone="Asia/Tokyo", closing_time="17:30")
user = get_user_model().objects.create_user(username="fault-worker", password="unused-pw-1")
Membership.objects.create(user=user, plant=plant, role=Role.WORKER)
print(json.dumps({"plant": plant.pk, "token": Token.objects.create(user=user).key}))
"""


def manage(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, timeout=300, capture_output=True, text=True)
    assert done.returncode == 0, f"manage.py {args[0]}: {done.stdout}{done.stderr[-3000:]}"
    return done.stdout


@dataclass
class Attempt:
    key: str
    serial: str
    sent_at: float
    elapsed_s: float
    status: int | None
    body: str
    content_type: str
    retry_after: str | None
    error: str | None = None


@pytest.fixture
def moira_on_private_postgresql():
    """(base url, token, plant id, cluster, gunicorn process) with everything torn down afterwards."""
    reason = restart_skip_reason()
    if reason:
        pytest.skip(reason)
    cluster = PrivateCluster()
    gunicorn = None
    try:
        cluster.init()
        cluster.start()
        cluster.createdb("moira_fault")
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DEBUG")}
        env.update(DATABASE_URL=cluster.url("moira_fault"), DEBUG="False", LOG_LEVEL="WARNING", MOIRA_MEDIA_ROOT=str(cluster.dir / "media"))
        manage(env, "migrate", "--noinput", "-v0")
        seed = json.loads(manage(env, "shell", "-c", SEED).strip().splitlines()[-1])
        port = free_port()
        gunicorn_log = open(cluster.dir / "gunicorn.log", "w")  # noqa: SIM115 - closed with the process below
        gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "moira.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}",
                                     "--timeout", "30", "--graceful-timeout", "3", "--preload"], cwd=ROOT, env=env,
                                    stdout=gunicorn_log, stderr=subprocess.STDOUT)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/api/v1/time/", headers={"Authorization": f"Token {seed['token']}"}, timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert gunicorn.poll() is None and time.monotonic() < deadline, (cluster.dir / "gunicorn.log").read_text()
            time.sleep(0.2)
        yield base, seed["token"], seed["plant"], cluster, gunicorn, env
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            try:
                gunicorn.wait(timeout=10)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
            gunicorn_log.close()
        cluster.destroy()


def test_postgresql_restarted_under_load_fails_cleanly_then_recovers_and_loses_nothing(moira_on_private_postgresql):
    base, token, plant_id, cluster, gunicorn, env = moira_on_private_postgresql
    auth = {"Authorization": f"Token {token}", "Accept": "application/json"}
    attempts: list[Attempt] = []  # every POST, in the order sent per key
    reads: list[Attempt] = []
    lock = threading.Lock()
    stop = threading.Event()

    def answer(key: str, serial: str, send) -> Attempt:
        sent = time.monotonic()
        try:
            r = send()
        except requests.RequestException as exc:
            return Attempt(key, serial, sent, time.monotonic() - sent, None, "", "", None, error=repr(exc))
        return Attempt(key, serial, sent, time.monotonic() - sent, r.status_code, r.text, r.headers.get("Content-Type", ""),
                       r.headers.get("Retry-After"))

    def post_product(key: str, serial: str) -> Attempt:
        body = {"plant": plant_id, "maker": "Fuji", "model": "FR-1", "serial_number": serial}
        return answer(key, serial, lambda: requests.post(f"{base}/api/v1/products/", json=body, headers={**auth, "Idempotency-Key": key},
                                                         timeout=REQUEST_TIMEOUT_S))  # fmt: skip

    def writer(name: str):
        # Like the workers' offline queue: one key per action, replayed after a short back-off until it is done.
        for n in range(1, 10_000):
            key, serial = str(uuid.uuid4()), f"{name}-{n:04d}"
            while not stop.is_set():
                attempt = post_product(key, serial)
                with lock:
                    attempts.append(attempt)
                if attempt.status in (200, 201):
                    break
                time.sleep(0.2)
            if stop.is_set():
                return

    def reader():
        while not stop.is_set():
            result = answer("", "", lambda: requests.get(f"{base}/api/v1/products/?limit=5", headers=auth, timeout=REQUEST_TIMEOUT_S))
            with lock:
                reads.append(result)
            time.sleep(0.05 if result.status == 200 else 0.2)

    threads = [threading.Thread(target=writer, args=(f"W{i}",)) for i in range(3)] + [threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        down_at = time.monotonic()
        cluster.stop("fast")  # terminates every backend, mid-transaction for some requests
        time.sleep(OUTAGE_S)
        cluster.start()
        up_at = time.monotonic()
        time.sleep(3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(REQUEST_TIMEOUT_S + 5)
    log = (cluster.dir / "gunicorn.log").read_text(errors="replace")[-3000:]
    everything = attempts + reads
    by_key: dict[str, list[Attempt]] = {}
    for attempt in attempts:
        by_key.setdefault(attempt.key, []).append(attempt)

    # Clean answers throughout: no hung or dropped request, no traceback, a failure says "retry" in JSON.
    assert not [a for a in everything if a.error], [a.error for a in everything if a.error][:3]
    assert max(a.elapsed_s for a in everything) < REQUEST_TIMEOUT_S
    assert not [a for a in everything if "Traceback" in a.body or "<html" in a.body.lower()], log
    failed = [a for a in everything if a.status >= 300]
    assert failed, "no request met the outage: the test proved nothing"
    assert {a.status for a in failed} <= {409, 503}, [(a.status, a.body[:200]) for a in failed]
    assert all(a.content_type.startswith("application/json") and json.loads(a.body)["detail"] and a.retry_after for a in failed)
    # 409 only for a key whose earlier request the stop cut off: its claim waits for the dead request's lock to be seen free.
    assert all(by_key[a.key][0].status == 503 for a in failed if a.status == 409)
    assert {a.status for a in everything if a.sent_at + a.elapsed_s < down_at} <= {200, 201}  # answered before the stop
    # Back without restarting gunicorn: every new action and every read sent once PostgreSQL was up again succeeded.
    assert gunicorn.poll() is None
    after = [a for a in reads + [tries[0] for tries in by_key.values()] if a.sent_at > up_at]
    assert len(after) >= 4 and {a.status for a in after} <= {200, 201}, [(a.status, a.body[:200]) for a in after if a.status >= 300]

    # Replaying with the same keys: an unfinished write is done now, a done one is only replayed.
    def replayed(attempt: Attempt) -> Attempt:
        deadline = time.monotonic() + 20
        while True:
            again = post_product(attempt.key, attempt.serial)
            if again.status in (200, 201) or time.monotonic() > deadline:
                return again
            assert again.status in (409, 503), (again.status, again.body)
            time.sleep(0.3)

    unfinished = [tries[-1] for tries in by_key.values() if tries[-1].status != 201]
    for attempt in unfinished:
        assert replayed(attempt).status == 201
    done_after_failing = [tries[-1] for tries in by_key.values() if len(tries) > 1 and tries[-1].status == 201]
    assert done_after_failing, "no write was replayed after a failure during the outage"
    done_at_once = [tries[0] for tries in by_key.values() if tries[0].status == 201]
    for attempt in done_after_failing[:3] + done_at_once[:3]:
        again = post_product(attempt.key, attempt.serial)
        assert again.status == 201 and json.loads(again.body) == json.loads(attempt.body), again.body

    # A restart while nobody is asking: the connections the workers kept are dead, and the very first requests still succeed.
    cluster.restart()
    quiet = [answer("", "", lambda: requests.get(f"{base}/api/v1/products/?limit=1", headers=auth, timeout=REQUEST_TIMEOUT_S))
             for _ in range(6)]  # fmt: skip
    quiet += [post_product(str(uuid.uuid4()), f"Q-{n}") for n in range(2)]
    assert [a.status for a in quiet] == [200] * 6 + [201] * 2, [(a.status, a.body[:200]) for a in quiet]
    by_key.update({a.key: [a] for a in quiet[6:]})

    # Every write is in the database exactly once, and the event chain survived the restarts.
    counts = manage(env, "shell", "-c", "import json; from collections import Counter; from lots.models import Product;"
                                        " from audit.models import Event;"
                                        " print(json.dumps({'serials': Counter(Product.objects.values_list('serial_number', flat=True)),"
                                        " 'events': Event.objects.filter(action='product.create').count()}))")  # fmt: skip
    stored = json.loads(counts.strip().splitlines()[-1])
    assert stored["serials"] == {tries[0].serial: 1 for tries in by_key.values()}
    assert stored["events"] == len(by_key)
    manage(env, "verify_log")  # the hash chain is intact


# ------------------------------------------------------------------------------------------ the same action twice at once


@pytest.fixture
def open_run(transactional_db, plant, line, manager):
    needs_postgresql()
    lot = lot_services.lot_create(plant=plant, code="RACE", processed_mass_kg=Decimal("1000"), actor=manager)
    return lot_services.run_start(lot=lot, line=line, started_at=dt.datetime(2026, 3, 2, 6, 0, tzinfo=JST), actor=manager)


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def stop_events(run: Run) -> int:
    return Event.objects.filter(action="run.stop", object_type="lots.run", object_id=str(run.pk)).count()


def test_two_stops_of_one_run_pressed_at_once_one_wins_the_other_is_told_why(open_run, worker, manager):
    clients = iter([token_client(worker), token_client(manager)])  # two people at two phones
    ended = iter(["2026-03-02T07:00:00+09:00", "2026-03-02T07:00:05+09:00"])
    pairs = [(next(clients), next(ended), key) for key in ("stop-a", "stop-b")]

    def press():
        client, ended_at, key = pairs.pop()
        return client.post(f"/api/v1/runs/{open_run.pk}/stop/", {"ended_at": ended_at}, format="json", HTTP_IDEMPOTENCY_KEY=key,
                           HTTP_ACCEPT_LANGUAGE="en")

    responses = sorted(at_once(press), key=lambda r: r.status_code)
    assert [r.status_code for r in responses] == [200, 400], [r.content for r in responses]
    winner, loser = responses
    assert "stopped already" in loser.json()["ended_at"][0]
    open_run.refresh_from_db()
    assert open_run.ended_at == dt.datetime.fromisoformat(winner.json()["ended_at"])
    assert stop_events(open_run) == 1


def test_the_same_stop_sent_twice_at_once_with_one_key_is_done_once(open_run, worker):
    client = token_client(worker)

    def press():
        return client.post(f"/api/v1/runs/{open_run.pk}/stop/", {"ended_at": "2026-03-02T07:00:00+09:00"}, format="json",
                           HTTP_IDEMPOTENCY_KEY="the-same-tap")

    responses = at_once(press)
    fresh = [r for r in responses if r.status_code == 200 and not r.has_header("Idempotent-Replay")]
    others = [r for r in responses if r not in fresh]
    assert len(fresh) == 1 and len(others) == 1, [(r.status_code, r.content) for r in responses]
    other = others[0]
    # Either it met the first still running (409, retry later) or it came after and got the first answer again.
    assert (other.status_code == 409 and other["Retry-After"]) or (other.status_code == 200 and other.json() == fresh[0].json())
    again = press()
    assert again.status_code == 200 and again["Idempotent-Replay"] == "true" and again.json() == fresh[0].json()
    assert stop_events(open_run) == 1


def test_the_same_file_posted_twice_at_once_through_the_api_is_stored_once(transactional_db, plant, line):
    needs_postgresql()
    Logger.objects.create(plant=plant, line=line, code="A-11", multiplier=Decimal("1000"))
    _, key = crawler_token_create(plant=plant)

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Device {key}")
        return client.post("/api/v1/power/uploads/", {"logger": "A-11", "sha256": hashlib.sha256(UTF8).hexdigest(),
                                                      "file": SimpleUploadedFile("03020000.CSV", UTF8)}, format="multipart")

    responses = sorted(at_once(post), key=lambda r: r.status_code)
    assert [r.status_code for r in responses] == [200, 201], [r.content for r in responses]
    assert responses[0].json()["status"] == "duplicate" and responses[0].json()["id"] == responses[1].json()["id"]
    assert Upload.objects.count() == 1 and Reading.objects.count() == 720
    assert Event.objects.filter(action="upload.accept").count() == 1


def test_a_key_left_in_flight_by_a_dead_request_is_run_again_but_not_while_its_request_lives(transactional_db, plant, worker):
    """What lets a replay after a database restart go through at once: the claim's row lock tells a live first request from a dead one."""
    needs_postgresql()
    client = token_client(worker)
    identity = hashlib.sha256(client._credentials["HTTP_AUTHORIZATION"].encode()).hexdigest()
    claim = IdempotentRequest.objects.create(identity=identity, key="cut-off", method="POST", path="/api/v1/lots/")
    IdempotentRequest.objects.filter(pk=claim.pk).update(created_at=timezone.now() - CLAIM_GRACE * 2)
    locked, release = threading.Event(), threading.Event()

    def first_request_still_running():
        try:
            with transaction.atomic():
                IdempotentRequest.objects.select_for_update().get(pk=claim.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    def create_lot():
        return client.post("/api/v1/lots/", {"plant": plant.pk, "code": "CUT", "processed_mass_kg": "100"}, format="json",
                           HTTP_IDEMPOTENCY_KEY="cut-off")

    holder = threading.Thread(target=first_request_still_running)
    holder.start()
    try:
        assert locked.wait(10)
        busy = create_lot()
        assert busy.status_code == 409 and busy["Retry-After"]
    finally:
        release.set()
        holder.join()
    done = create_lot()  # its request is gone (as after a restart): run it now, once
    assert done.status_code == 201, done.content
    again = create_lot()
    assert again.status_code == 201 and again["Idempotent-Replay"] == "true" and again.json() == done.json()
    assert Lot.objects.filter(code="CUT").count() == 1
