"""Helpers every service uses: validate, save, and log in one step."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from audit.services import event_append


def save_and_log(obj: models.Model, *, action: str, actor, plant, payload: dict | None = None, exclude=None) -> models.Model:
    """Validate every field and constraint, save, and append the event to the hash-chained log."""
    # A relation set from an object already in hand needs no existence query (its foreign key guards it at insert);
    # it is still part of the unique and constraint checks.
    exclude = set(exclude or ())
    in_hand = {f.name for f in obj._meta.concrete_fields if f.is_relation and f.is_cached(obj) and getattr(obj, f.name) is not None}
    obj.full_clean(exclude=exclude | in_hand, validate_unique=False, validate_constraints=False)
    obj.validate_unique(exclude=exclude)
    obj.validate_constraints(exclude=exclude)
    obj.save()
    event_append(action=action, obj=obj, actor=actor, plant=plant, payload=payload)
    return obj


def reject(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def ensure_unique(queryset: models.QuerySet, field: str, message: str) -> None:
    if queryset.exists():
        raise reject(field, message)
