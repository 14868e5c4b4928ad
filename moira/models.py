from django.db import models


class PendingJob(models.Model):
    """A Celery job the broker did not take (Redis down), kept until `moira.jobs.pending_jobs_resend` hands it over."""

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.task_name}{tuple(self.args)}"
