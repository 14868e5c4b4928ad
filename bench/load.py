"""Load benchmark: the production stack on this machine under simulated shop-floor workers.

    .venv/bin/python bench/load.py                          # 10, 50 and 200 workers, 60 s each
    .venv/bin/python bench/load.py --workers 10 --seconds 10  # a quick trial

The stack runs as it would in a plant, on loopback only: gunicorn (`moira.wsgi`, DEBUG off), PostgreSQL
(a scratch database `moira_load`, created, migrated and seeded here), Redis (db 11) and a Celery worker.
Each simulated worker is a thread with its own API token and `requests.Session`, doing what the workers' PWA
sends (frontend/static/frontend/app/): on opening the app it measures the clock and loads its reference
data, then loops over intake slip -> two units with labels -> scan -> dismantle one (removed parts) ->
scan both and reserve them into a new lot -> reload the lists as the app does after a reservation (lots,
open runs, intakes...) -> start the worker's line -> stop it -> weigh the magnetic output. Every write
carries `Idempotency-Key`, `X-Device-Time` and `X-Device-Clock-Offset-Ms` like the app's offline queue.

Think time: a gloved worker needs 1 to 2 s between two taps (uniform at random); real work between units
takes minutes, so this is a harsher load than a plant's, on purpose. Workers start spread over a ramp of
up to 10 s (a shift does not open the app in the same millisecond). A worker stops at the deadline or
after `--max-iterations` loops, whichever comes first; a run left open at the deadline is stopped
afterwards, outside the figures. Log-in (POST auth/token/, a deliberately slow password hash) happens
before the timed window, once per worker (a phone keeps its token), and is reported apart.

Figures per level: p50/p95/p99 of every request's latency (ms, measured in the client from sending to
the whole body read), request count, throughput, and errors: any non-2xx answer (the flow expects none)
or exception. `p95_ratio_to_10` divides each level's p95 by the 10-worker p95: how the figures grow.
The client shares the 2 cores with the server, so latencies include the client's own scheduling delays.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lots.catalogue import PATTERN_PRESETS  # pure data, no Django

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_NAME = "moira_load"
REDIS_URL = "redis://127.0.0.1:6379/11"
PASSWORD = "load-bench-password"
PLANT_ZONE = ZoneInfo("Asia/Tokyo")
THINK_S = (1.0, 2.0)
AIM_P95_MS = 100.0
AIM_WORKERS = 50
UNITS_PER_LOOP = 2
HISTORY_LOTS = 200  # the app lists up to 200 lots: a plant with history fills that list from the first level on
# Five processes for two cores (gunicorn's 2 x cores + 1), four threads each so that reads go on while writes wait
# for the audit chain's lock. Measured: 3 x 8 gave a p95 about 20 % higher at 50 workers, since a heavy read (the
# list of 200 lots) holds its process's interpreter lock against the other seven threads.
GUNICORN_WORKERS, GUNICORN_THREADS = 5, 4
READ_TIMEOUT_S, WRITE_TIMEOUT_S = 15, 30  # the app's own timeouts for reads and queued writes


# Figures (pure) -------------------------------------------------------------------------------------------

def percentile(sorted_values: list[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation between closest ranks; None for no values."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def summarise(latencies_ms: list[float], errors: int, window_s: float) -> dict:
    ordered = sorted(latencies_ms)

    def rounded(q):
        value = percentile(ordered, q)
        return None if value is None else round(value, 1)

    return {
        "requests": len(ordered), "errors": errors,
        "throughput_rps": round(len(ordered) / window_s, 1) if window_s > 0 else None,
        "p50_ms": rounded(0.50), "p95_ms": rounded(0.95), "p99_ms": rounded(0.99),
        "max_ms": round(ordered[-1], 1) if ordered else None,
    }


def growth(levels: list[dict], base_workers: int = 10) -> None:
    """Add to each level its p95 divided by the base level's p95 (None when either is missing)."""
    base = next((level["p95_ms"] for level in levels if level["workers"] == base_workers), None)
    for level in levels:
        level["p95_ratio_to_10"] = round(level["p95_ms"] / base, 2) if base and level["p95_ms"] is not None else None


# Scratch database and seed --------------------------------------------------------------------------------

def database_url() -> str:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE_NAME}")
    return f"postgres://postgres@127.0.0.1:5432/{DATABASE_NAME}"


def seed(url: str, workers: int, labels_per_worker: dict[int, int]) -> dict:
    """Migrate and seed the scratch database: one plant, a line and a worker account per simulated worker,
    a manager, the parts database, a sorting method, a history of lots, and label codes for each level."""
    os.environ["DATABASE_URL"] = url
    os.environ.pop("REDIS_URL", None)  # tasks of the seed run in-process; the stack has its own Celery worker
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "moira.settings")
    import django

    django.setup()
    from decimal import Decimal as D

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, transaction

    from lots import services
    from lots.models import Part
    from plants import services as plant_services
    from plants.models import Role

    call_command("migrate", verbosity=0)
    users = get_user_model().objects
    hashed = make_password(PASSWORD)  # one slow hash for every account, not one per account
    with transaction.atomic():
        admin = users.create_superuser("load-admin", "load@example.com", PASSWORD)
        organisation = plant_services.organisation_create(code="load", name="Load bench", actor=admin)
        buyer = plant_services.organisation_create(code="load-buyer", name="Load buyer", actor=admin)
        plant = plant_services.plant_create(organisation=organisation, code="load", name="Load plant", timezone="Asia/Tokyo",
                                            closing_time=dt.time(17, 30), actor=admin)
        lines = [plant_services.line_create(plant=plant, code=f"L{i:03d}", name=f"Line {i}", actor=admin) for i in range(workers)]
        users.bulk_create([get_user_model()(username=f"worker{i:03d}", password=hashed) for i in range(workers)]
                          + [get_user_model()(username="load-manager", password=hashed)])
        for i in range(workers):
            plant_services.membership_grant(user=users.get(username=f"worker{i:03d}"), plant=plant, role=Role.WORKER, actor=admin)
        plant_services.membership_grant(user=users.get(username="load-manager"), plant=plant, role=Role.MANAGER, actor=admin)
        parts = {p.code: p for p in Part.objects.filter(kind="vending_machine")}
        for maker, low, high in (("Sanden", 1, 30), ("Sanden", 31, None), ("Fuji Electric", 1, None)):
            services.model_profile_create(plant=plant, kind="vending_machine", maker=maker, selection_min=low, selection_max=high,
                                          unit_mass_kg=D("320"), source="load bench", actor=admin, parts=[
                                              {"part": parts[code], "mass_kg": D(m), "cu_mass_kg": D(cu), "cr_mass_kg": D(cr)}
                                              for code, m, cu, cr in (("cooling_unit", "42", "5.2", "0.6"), ("rack", "28", "0.9", "1.4"),
                                                                      ("coin_mech", "5", "0.35", "0.02"))])
        method = services.sorting_method_create(plant=plant, code="drum", name="Drum magnet", actor=admin)
        services.calibration_create(sorting_method=method, valid_from=dt.date(2024, 4, 1), magnetic_recovery_pct=D("82"),
                                    cu_to_magnetic_pct=D("12"), cr_to_magnetic_pct=D("45"), actor=admin)
        _seed_history(plant, lines[0], method, admin)
        codes = {}
        for level, per_worker in labels_per_worker.items():
            wanted, issued = level * per_worker, []
            while len(issued) < wanted:
                batch = min(services.MAX_LABELS_PER_BATCH, wanted - len(issued))
                issued += [label.code for label in services.labels_issue(plant=plant, count=batch, actor=admin)]
            codes[level] = [issued[i * per_worker:(i + 1) * per_worker] for i in range(level)]
    connection.close()
    return {"plant": plant.pk, "buyer": buyer.pk, "lines": [line.pk for line in lines], "labels": codes}


def _seed_history(plant, line, method, actor) -> None:
    """Finished lots of the past weeks, so that the app's lists are as long as in a plant in service."""
    from decimal import Decimal as D

    from lots import services

    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    intake = None
    for i in range(HISTORY_LOTS):
        if i % 5 == 0:
            intake = services.intake_create(plant=plant, slip_number=f"HIST-{i:04d}", received_on=(start + dt.timedelta(hours=6 * i)).date(),
                                            expected_count=10, actor=actor)
        products = [services.product_create(plant=plant, kind="vending_machine", intake=intake, maker="Sanden", model="SVM-30A",
                                            selection_count=30, serial_number=f"H{i:04d}-{u}", actor=actor) for u in range(UNITS_PER_LOOP)]
        lot = services.lot_create(plant=plant, code=f"HIST-{i:04d}", processed_mass_kg=D("700"), sorting_method=method,
                                  products=products, actor=actor)
        began = start + dt.timedelta(hours=6 * i)
        services.run_start(lot=lot, line=line, started_at=began, ended_at=began + dt.timedelta(minutes=40), actor=actor)
        services.output_record(lot=lot, fraction="magnetic", mass_kg=D("560"), weighed_at=began + dt.timedelta(hours=1), actor=actor)


# The stack --------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """gunicorn and a Celery worker as subprocesses, each in its own process group, always stopped at the end."""

    def __init__(self, url: str, logs: Path, workers: int = GUNICORN_WORKERS, threads: int = GUNICORN_THREADS):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.logs = logs
        self.processes: list[subprocess.Popen] = []
        media = tempfile.mkdtemp(prefix="moira-load-media-")
        self.env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "DEBUG": "False",
                    "SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex, "ALLOWED_HOSTS": "127.0.0.1",
                    "MOIRA_MEDIA_ROOT": media, "LOG_LEVEL": "WARNING",
                    # The log-in throttle protects passwords, not capacity: here every worker logs in at once.
                    "MOIRA_LOGIN_RATE": "100000/min"}
        # Static files are served from the apps' folders unless collected; the API does not use them anyway.
        self.env["MOIRA_MANIFEST_STATIC"] = "True" if (ROOT / "staticfiles" / "staticfiles.json").exists() else "False"
        self.gunicorn_cmd = [sys.executable, "-m", "gunicorn", "moira.wsgi", "-b", f"127.0.0.1:{self.port}",
                             "-w", str(workers), "-k", "gthread", "--threads", str(threads),
                             "--timeout", "60", "--keep-alive", "30", "--backlog", "2048"]
        self.shape = f"gthread, {workers} workers x {threads} threads, DEBUG off"
        self.celery_cmd = [sys.executable, "-m", "celery", "-A", "moira", "worker", "--loglevel=INFO", "--concurrency=2",
                           "--without-gossip", "--without-mingle"]

    def _spawn(self, cmd: list[str], name: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "w")
        process = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def start(self) -> None:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()  # db 11 is this benchmark's: no stale tasks from an earlier run
        atexit.register(self.stop)
        web = self._spawn(self.gunicorn_cmd, "gunicorn")
        celery = self._spawn(self.celery_cmd, "celery")
        deadline = time.monotonic() + 60
        web_up = celery_up = False
        while time.monotonic() < deadline and not (web_up and celery_up):
            for process, name in ((web, "gunicorn"), (celery, "celery")):
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited ({process.returncode}): {self.tail(name)}")
            if not web_up:
                try:
                    web_up = requests.get(f"{self.base_url}/api/v1/time/", timeout=2).status_code in (200, 401, 403)
                except requests.RequestException:
                    pass
            celery_up = celery_up or " ready." in (self.logs / "celery.log").read_text(errors="replace")
            time.sleep(0.3)
        if not (web_up and celery_up):
            raise RuntimeError(f"the stack did not answer within 60 s (gunicorn {web_up}, celery {celery_up}): {self.tail('gunicorn')}")

    def tail(self, name: str, lines: int = 15) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def celery_backlog(self) -> int:
        import redis

        return int(redis.Redis.from_url(REDIS_URL).llen("celery"))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)  # the group this benchmark started: master and its children
                except ProcessLookupError:
                    pass
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()


# Where the time goes: CPU of each part, and requests waiting for a lock -----------------------------------

def _cpu_s_of(pids) -> float:
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass  # gone meanwhile
    return ticks / os.sysconf("SC_CLK_TCK")


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def _machine_busy_ticks() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Sampler:
    """Once a second: database backends of the bench that are active and that wait for a lock; CPU per part at the ends."""

    def __init__(self, stack: Stack):
        self.stack, self.stop_event = stack, threading.Event()
        self.active, self.waiting = [], []
        self.waited_in: dict[str, int] = defaultdict(int)  # statement -> samples in which a backend waited for a lock in it
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _backends(self, conn) -> list[tuple]:
        return conn.execute("SELECT pid, state, wait_event_type, left(query, 70) FROM pg_stat_activity WHERE datname = %s",
                            [DATABASE_NAME]).fetchall()

    def _cpu(self, conn) -> dict:
        return {"web": _cpu_s_of(_group_pids(self.stack.processes[0].pid)), "celery": _cpu_s_of(_group_pids(self.stack.processes[1].pid)),
                "database": _cpu_s_of([row[0] for row in self._backends(conn)]), "client": time.process_time()}

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            while not self.stop_event.wait(1.0):
                rows = self._backends(conn)
                self.active.append(sum(1 for _, state, _, _ in rows if state == "active"))
                self.waiting.append(sum(1 for _, _, wait, _ in rows if wait == "Lock"))
                for _, _, wait, query in rows:
                    if wait == "Lock":
                        self.waited_in[query] += 1

    def __enter__(self):
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            self.cpu_before = self._cpu(conn)
        self.busy_before = _machine_busy_ticks()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        import psycopg

        self.stop_event.set()
        self.thread.join()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            self.cpu_after = self._cpu(conn)
        busy, total = (a - b for a, b in zip(_machine_busy_ticks(), self.busy_before, strict=True))
        self.machine_busy_pct = round(100 * busy / total, 1) if total else None

    def figures(self, window_s: float) -> dict:
        # Database backends that closed during the level are missed: its figure is a lower bound.
        cpu = {part: round(self.cpu_after[part] - self.cpu_before[part], 1) for part in self.cpu_after}
        return {"cpu_s": cpu, "cores_used": round(sum(cpu.values()) / window_s, 2), "machine_busy_pct": self.machine_busy_pct,
                "db_active_mean": round(sum(self.active) / len(self.active), 1) if self.active else None,
                "db_waiting_for_lock_mean": round(sum(self.waiting) / len(self.waiting), 1) if self.waiting else None,
                "db_waiting_for_lock_max": max(self.waiting, default=None),
                "db_lock_waits_by_statement": dict(sorted(self.waited_in.items(), key=lambda item: -item[1])[:3])}


# Simulated workers ------------------------------------------------------------------------------------------

class FlowBroken(Exception):
    """A step answered with an error: the rest of this loop depends on it."""


class SimulatedWorker:
    def __init__(self, index: int, base_url: str, token: str, seeded: dict, labels: list[str], level: int,
                 window: tuple[float, float], start_at: float, max_iterations: int, seed_value: int):
        self.index, self.base_url, self.level = index, base_url, level
        self.plant, self.line = seeded["plant"], seeded["lines"][index]
        self.labels = list(labels)
        self.window_start, self.deadline = window
        self.start_at, self.max_iterations = start_at, max_iterations
        self.random = random.Random(seed_value)
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}", "Accept": "application/json"})
        self.samples: list[tuple[str, float, int]] = []  # (endpoint, latency ms, status; 0 for an exception)
        self.failures: list[str] = []
        self.iterations = 0
        self.offset_ms = 0
        self.part_ids: list[int] = []
        self.sorting_method = None
        self.open_run: int | None = None

    # requests ---------------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, endpoint: str, body: dict | None = None, record: bool = True):
        headers = {}
        if method != "GET":
            headers = {"Idempotency-Key": str(uuid.uuid4()), "X-Device-Time": self._device_now(),
                       "X-Device-Clock-Offset-Ms": str(self.offset_ms)}
        began = time.perf_counter()
        try:
            response = self.session.request(method, f"{self.base_url}/api/v1/{path}", json=body, headers=headers,
                                            timeout=READ_TIMEOUT_S if method == "GET" else WRITE_TIMEOUT_S)
            status, data = response.status_code, response.content
        except requests.RequestException as error:
            status, data = 0, repr(error).encode()
        latency_ms = (time.perf_counter() - began) * 1000
        if record:
            self.samples.append((endpoint, latency_ms, status))
        if not 200 <= status < 300:
            self.failures.append(f"{method} {endpoint} -> {status}: {data[:200].decode(errors='replace')}")
            raise FlowBroken(endpoint)
        return json.loads(data) if data else None

    def _device_now(self) -> str:
        return dt.datetime.now().astimezone().isoformat(timespec="milliseconds")

    def _server_now(self) -> str:
        return (dt.datetime.now().astimezone() + dt.timedelta(milliseconds=self.offset_ms)).isoformat(timespec="milliseconds")

    def _list(self, path: str, endpoint: str, limit: int) -> list:
        sep = "&" if "?" in path else "?"
        data = self._call("GET", f"{path}{sep}limit={limit}", endpoint)
        return data["results"] if isinstance(data, dict) else data

    # the worker's day ---------------------------------------------------------------------------------------
    def _tap(self) -> bool:
        """Wait a gloved worker's time between two taps; False once the deadline has passed."""
        time.sleep(self.random.uniform(*THINK_S))
        return time.monotonic() < self.deadline

    def _measure_clock(self) -> None:
        began = time.time()
        answer = self._call("GET", "time/", "time")
        server = dt.datetime.fromisoformat(answer["server_time"]).timestamp()
        self.offset_ms = round((server - (began + time.time()) / 2) * 1000)

    def _refresh(self) -> None:
        """What the app reloads on opening and after a reservation (getList of each, the same limits)."""
        self._list("plants/", "plants", 200)
        self._list("lines/", "lines", 200)
        parts = self._list("parts/?kind=vending_machine", "parts", 200)
        self._list("parts/?kind=vehicle", "parts", 200)
        methods = self._list("sorting-methods/", "sorting-methods", 200)
        self._list("organisations/", "organisations", 200)
        self._list("lots/", "lots", 200)
        self._list("runs/?open=true", "runs-open", 200)
        self._list("intakes/", "intakes", 100)
        preset = set(PATTERN_PRESETS["vending_machine"]["pattern_1"])  # what the app preselects for pattern ①
        self.part_ids = [p["id"] for p in parts if p["code"] in preset]
        self.sorting_method = next((m["id"] for m in methods if m["plant"] == self.plant), None)

    def _loop(self) -> None:
        k, level, me = self.iterations, self.level, self.index
        codes = self.labels[k * UNITS_PER_LOOP:(k + 1) * UNITS_PER_LOOP]
        if not self._tap():
            return
        self._measure_clock()
        if not self._tap():
            return
        intake = self._call("POST", "intakes/", "intakes:create", {
            "plant": self.plant, "slip_number": f"L{level}-W{me}-{k}", "supplier": "load",
            "received_on": dt.datetime.now(PLANT_ZONE).date().isoformat(), "expected_count": UNITS_PER_LOOP})
        units = []
        for n, code in enumerate(codes):
            if not self._tap():
                return
            units.append(self._call("POST", "products/", "products:create", {
                "plant": self.plant, "intake": intake["id"], "kind": "vending_machine", "label": code, "maker": "Sanden",
                "model": "SVM-30A", "serial_number": f"S{level}-{me}-{k}-{n}", "selection_count": 30, "manufactured_year": 2012}))
        if not self._tap():
            return
        found = self._call("GET", f"products/?label={codes[0]}", "products:by-label")["results"][0]
        if not self._tap():
            return
        self._call("POST", "dismantlings/", "dismantlings:create", {
            "product": found["id"], "pattern": "pattern_1", "performed_at": self._server_now(),
            "parts": [{"part": part} for part in self.part_ids]})
        scanned = []
        for code in codes:
            if not self._tap():
                return
            scanned.append(self._call("GET", f"products/?label={code}", "products:by-label")["results"][0]["id"])
        if not self._tap():
            return
        lot = self._call("POST", "lots/", "lots:create", {
            "plant": self.plant, "code": f"L{level}-W{me}-{k}", "processed_mass_kg": "700", "sorting_method": self.sorting_method,
            "products": scanned})
        self._refresh()
        if not self._tap():
            return
        run = self._call("POST", f"lots/{lot['id']}/runs/", "runs:start", {"line": self.line, "started_at": self._server_now()})
        self.open_run = run["id"]
        if not self._tap():
            return
        self._call("POST", f"runs/{run['id']}/stop/", "runs:stop", {"ended_at": self._server_now()})
        self.open_run = None
        if not self._tap():
            return
        self._call("POST", "outputs/", "outputs:create", {"lot": lot["id"], "fraction": "magnetic", "mass_kg": "560.5",
                                                           "weighed_at": self._server_now()})
        self.iterations += 1

    def run(self) -> None:
        time.sleep(max(0.0, self.start_at - time.monotonic()))
        try:
            for _ in range(3):  # the app measures its clock offset with three round trips on opening
                self._measure_clock()
            self._refresh()
        except FlowBroken:
            return
        while time.monotonic() < self.deadline and self.iterations < self.max_iterations:
            if (self.iterations + 1) * UNITS_PER_LOOP > len(self.labels):
                break
            try:
                self._loop()
            except FlowBroken:
                self.iterations += 1  # its labels may be used already: the next loop takes fresh ones
            except Exception as error:  # a bug in the client, not the server: count it, keep the worker going
                self.failures.append(f"client: {error!r}")
                self.samples.append(("client", 0.0, 0))
                self.iterations += 1
        if self.open_run is not None:  # leave the line free for the next level, outside the figures
            try:
                self._call("POST", f"runs/{self.open_run}/stop/", "runs:stop", {"ended_at": self._server_now()}, record=False)
            except FlowBroken:
                pass
        self.session.close()


def log_in(base_url: str, usernames: list[str], tokens: dict[str, str], parallel: int = 4) -> dict:
    """Get a token for each account not logged in yet; returns the log-ins' figures."""
    todo = [u for u in usernames if u not in tokens]
    latencies, errors = [], []
    lock = threading.Lock()

    def work():
        session = requests.Session()
        while True:
            with lock:
                if not todo:
                    break
                username = todo.pop()
            began = time.perf_counter()
            try:
                response = session.post(f"{base_url}/api/v1/auth/token/", data={"username": username, "password": PASSWORD}, timeout=60)
                ok = response.status_code == 200
                detail = response.text[:200]
            except requests.RequestException as error:
                ok, detail = False, repr(error)
            with lock:
                latencies.append((time.perf_counter() - began) * 1000)
                if ok:
                    tokens[username] = response.json()["token"]
                else:
                    errors.append(f"{username}: {detail}")
        session.close()

    began = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(parallel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures = summarise(latencies, len(errors), time.monotonic() - began)
    if errors:
        figures["error_samples"] = errors[:3]
    return figures


def max_iterations_for(seconds: float) -> int:
    """No more loops than fit in the window at the shortest think time (a loop has 12 taps): the bound of the loop."""
    return max(1, math.ceil(seconds / (12 * THINK_S[0])) + 1)


def run_level(stack: Stack, seeded: dict, tokens: dict[str, str], workers: int, seconds: float, rng_seed: int) -> dict:
    login = log_in(stack.base_url, [f"worker{i:03d}" for i in range(workers)], tokens)
    missing = [i for i in range(workers) if f"worker{i:03d}" not in tokens]
    if missing:
        raise RuntimeError(f"{len(missing)} workers could not log in: {login.get('error_samples')}")
    ramp_s = min(10.0, seconds / 6)
    window_start = time.monotonic() + 0.5
    deadline = window_start + seconds
    simulated = [SimulatedWorker(i, stack.base_url, tokens[f"worker{i:03d}"], seeded, seeded["labels"][workers][i], workers,
                                 (window_start, deadline), window_start + random.Random(rng_seed + i).uniform(0, ramp_s),
                                 max_iterations_for(seconds), rng_seed * 1000 + i) for i in range(workers)]
    threads = [threading.Thread(target=w.run, name=f"worker{w.index}", daemon=True) for w in simulated]
    with Sampler(stack) as sampler:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(1.0, deadline + WRITE_TIMEOUT_S * 2 - time.monotonic()))
    window_s = max(time.monotonic(), deadline) - window_start
    samples = [s for w in simulated for s in w.samples]
    failures = [f for w in simulated for f in w.failures]
    errors = sum(1 for _, _, status in samples if not 200 <= status < 300)
    figures = {"workers": workers, "seconds": seconds, **summarise([ms for _, ms, _ in samples], errors, window_s),
               "loops_completed": sum(w.iterations for w in simulated), "login": login, "server": sampler.figures(window_s)}
    by_endpoint = defaultdict(list)
    for endpoint, ms, _ in samples:
        by_endpoint[endpoint].append(ms)
    figures["by_endpoint"] = {name: {k: v for k, v in summarise(values, 0, window_s).items() if k in ("requests", "p50_ms", "p95_ms")}
                              for name, values in sorted(by_endpoint.items())}
    if failures:
        figures["error_samples"] = failures[:5]
    return figures


def wait_for_celery(stack: Stack, timeout_s: float = 120) -> int:
    """Let the tasks queued by one level finish before the next level starts; returns what is left."""
    deadline = time.monotonic() + timeout_s
    while stack.celery_backlog() and time.monotonic() < deadline:
        time.sleep(1)
    return stack.celery_backlog()


def run(levels: list[int], seconds: float, gunicorn: tuple[int, int] = (GUNICORN_WORKERS, GUNICORN_THREADS)) -> dict:
    started = time.monotonic()
    per_worker = {level: UNITS_PER_LOOP * max_iterations_for(seconds) for level in levels}
    url = database_url()
    seeded = seed(url, max(levels), per_worker)
    seed_s = time.monotonic() - started
    logs = Path(tempfile.mkdtemp(prefix="moira-load-logs-"))
    stack = Stack(url, logs, *gunicorn)
    results = {"levels": []}
    try:
        stack.start()
        tokens: dict[str, str] = {}
        for n, workers in enumerate(levels):
            print(f"load: {workers} workers for {seconds:g} s ...", file=sys.stderr, flush=True)
            level = run_level(stack, seeded, tokens, workers, seconds, rng_seed=n + 1)
            level["celery_backlog_after"] = wait_for_celery(stack)
            results["levels"].append(level)
            print(f"load: {workers} workers: p50 {level['p50_ms']} ms, p95 {level['p95_ms']} ms, p99 {level['p99_ms']} ms, "
                  f"{level['requests']} requests, {level['errors']} errors", file=sys.stderr, flush=True)
    finally:
        stack.stop()
    growth(results["levels"])
    at_aim = next((level for level in results["levels"] if level["workers"] == AIM_WORKERS), None)
    results["aim"] = {"p95_ms_below": AIM_P95_MS, "at_workers": AIM_WORKERS,
                      "met": None if at_aim is None else bool(at_aim["p95_ms"] is not None and at_aim["p95_ms"] < AIM_P95_MS
                                                                and at_aim["errors"] == 0)}
    results["setup"] = {
        "machine": f"{os.cpu_count()} cores shared by the load generator (threads, one requests.Session per worker) and the whole stack",
        "gunicorn": stack.shape,
        "celery": "1 worker, concurrency 2, Redis db 11", "database": f"PostgreSQL, scratch database {DATABASE_NAME}",
        "think_time_s": list(THINK_S), "units_per_loop": UNITS_PER_LOOP, "history_lots": HISTORY_LOTS,
        "seed_s": round(seed_s, 1),
    }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[10, 50, 200], help="simulated workers per level")
    parser.add_argument("--seconds", type=float, default=60, help="length of each level")
    parser.add_argument("--gunicorn", type=int, nargs=2, default=[GUNICORN_WORKERS, GUNICORN_THREADS], metavar=("WORKERS", "THREADS"))
    parser.add_argument("--out", type=Path, help="write the figures (JSON) to this file")
    parser.add_argument("--merge", action="store_true", help="put the figures under 'load' in bench/results.json")
    args = parser.parse_args(argv)
    # A SIGTERM (make interrupted, CI timeout) unwinds through run()'s `finally`, which stops the stack.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = run(args.workers, args.seconds, tuple(args.gunicorn))
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    if args.merge:
        path = ROOT / "bench" / "results.json"
        merged = json.loads(path.read_text()) if path.exists() else {}
        merged["load"] = results
        path.write_text(json.dumps(merged, indent=2) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
