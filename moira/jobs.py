"""Sending Celery jobs from requests so that a broker outage never costs a worker's action, nor the job.

Web requests publish after their transaction commits. When Redis does not answer within a short retry, the
job is kept in the database (`PendingJob`) and the request still succeeds; the beat task
`pending_jobs_resend_task` hands the kept jobs to the broker once it answers again. Every task sent this way
is idempotent (it recomputes from the database), so a job sent twice does no harm, and one never sent would.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import DatabaseError, transaction

from moira.models import PendingJob

log = logging.getLogger(__name__)

# Two quick attempts: a request must answer in about a second when Redis is down, and the kept job is safe.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def _publish(task, args: list) -> None:
    if task.app.conf.task_always_eager:
        task.apply_async(args=args)
        return
    # No caller reads results: subscribing to them would tie every web process to the result store's reconnects.
    task.apply_async(args=args, ignore_result=True, retry=True, retry_policy=PUBLISH_RETRY_POLICY)


def enqueue(task, *args) -> None:
    """Send `task(*args)` to the workers, or keep it for later when the broker does not take it."""
    if task.app.conf.task_always_eager:  # runs in-process: the task's own errors must surface, not be kept
        _publish(task, list(args))
        return
    try:
        _publish(task, list(args))
    except Exception as exc:  # any failure to publish (connection, timeout, result store) must not lose the job
        log.warning("broker did not take %s%s (%s); kept for resending", task.name, args, exc)
        try:
            PendingJob.objects.get_or_create(task_name=task.name, args=list(args), defaults={"error": str(exc)[:1000]})
        except DatabaseError:
            log.exception("job %s%s lost: neither the broker nor the database took it", task.name, args)


def enqueue_after_commit(task, *args) -> None:
    """Send `task(*args)` once the current transaction commits, so the worker sees what it wrote."""
    transaction.on_commit(lambda: enqueue(task, *args))


def pending_jobs_resend(*, limit: int = 1000) -> int:
    """Hand the kept jobs to the broker, oldest first; return how many went. A refusal stops the round."""
    sent = 0
    for job_id in PendingJob.objects.order_by("pk").values_list("pk", flat=True)[:limit]:
        with transaction.atomic():
            job = PendingJob.objects.select_for_update(skip_locked=True).filter(pk=job_id).first()
            if job is None:  # another resender holds it
                continue
            # Published before the row goes: a failed commit then sends it twice, which idempotent tasks allow.
            _publish(current_app.tasks[job.task_name], job.args)
            job.delete()
        sent += 1
    if sent:
        log.info("resent %d kept job(s) to the broker", sent)
    return sent
