from celery import shared_task

from power import services


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def runs_allocate_task(run_ids: list[int]) -> list[int]:
    """Recompute these runs' energy (idempotent) and refresh their lots' certificates."""
    return services.runs_allocate(run_ids=run_ids)


@shared_task(acks_late=True)
def recent_runs_allocate_task(days: int = 7) -> list[int]:
    return services.recent_runs_allocate(days=days)
