"""Helpers every service uses: validate, save, and log in one step."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from audit.services import event_append


def save_and_log(obj: models.Model, *, action: str, actor, plant, payload: dict | None = None, exclude=None) -> models.Model:
    """Validate every field and constraint, save, and append the event to the hash-chained log."""
    obj.full_clean(exclude=exclude)
    obj.save()
    event_append(action=action, obj=obj, actor=actor, plant=plant, payload=payload)
    return obj


def reject(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def ensure_unique(queryset: models.QuerySet, field: str, message: str) -> None:
    if queryset.exists():
        raise reject(field, message)
