"""A real Celery worker on Redis against the test PostgreSQL database.

These tests run when DATABASE_URL names PostgreSQL and REDIS_URL answers (`make test` arranges both when
the services are up, as on CI); otherwise they are skipped and say why.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _redis_answers(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:
        return False


def skip_reason() -> str | None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "integration tests need PostgreSQL: set DATABASE_URL=postgres://... (make test does when it is up)"
    if not settings.REDIS_URL:
        return "integration tests need Redis and a Celery worker: set REDIS_URL (make test does when it is up)"
    if not _redis_answers(settings.REDIS_URL):
        return f"Redis at {settings.REDIS_URL} does not answer"
    return None


@pytest.fixture
def celery_worker_process(transactional_db):
    """Start `celery worker` in a subprocess on the test database; stop it after the test."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    import redis

    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # no stale messages from an earlier run
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    log = open(ROOT / ".pytest_cache" / "celery-worker.log", "w") if (ROOT / ".pytest_cache").exists() else subprocess.DEVNULL
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "moira", "worker", "--pool=solo", "--loglevel=INFO", "--without-heartbeat",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    yield worker
    worker.terminate()
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()


def wait_for(predicate, timeout_s: float = 30, what: str = "the worker"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def at_once(action, times: int = 2) -> list:
    """Run `action` in `times` threads released together; return what each returned (in finishing order)."""
    barrier = threading.Barrier(times)
    results = []

    def worker():
        try:
            barrier.wait()
            results.append(action())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
