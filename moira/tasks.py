from celery import shared_task

from moira import jobs


@shared_task(acks_late=True)
def pending_jobs_resend_task() -> int:
    """Beat's round: hand the jobs kept while the broker was down to the workers."""
    return jobs.pending_jobs_resend()
