from __future__ import annotations

from django.conf import settings
from django.db import models


class Event(models.Model):
    """One entry of the append-only log; `entry_hash` covers the entry and the previous entry's hash."""

    plant = models.ForeignKey("plants.Plant", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    previous_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_type}:{self.object_id}"


class ChainHead(models.Model):
    """The single row locked while appending, so that concurrent writers extend the chain one at a time."""

    last_hash = models.CharField(max_length=64)
    last_event_id = models.BigIntegerField(null=True)


class IdempotentRequest(models.Model):
    """A write sent with an Idempotency-Key: its response is kept so a replay from an offline queue is harmless.

    It also keeps the device's own clock and its measured offset to the server, sent with offline taps.
    """

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        DONE = "done", "Done"

    identity = models.CharField(max_length=64, help_text="SHA-256 of the credential (token or session) that sent it.")
    key = models.CharField(max_length=100)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)
    response_content_type = models.CharField(max_length=100, blank=True)
    device_time = models.DateTimeField(null=True, blank=True)
    device_clock_offset_ms = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["identity", "key"], name="idempotency_key_once_per_credential")]
