from celery import shared_task

from lots import certificates


@shared_task(acks_late=True, autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def lot_certificate_refresh_task(lot_id: int) -> str | None:
    """Re-issue a shown lot certificate whose figures changed (late weights, analyses, runs)."""
    certificate = certificates.lot_certificate_refresh(lot_id=lot_id)
    return certificate.digest if certificate else None
