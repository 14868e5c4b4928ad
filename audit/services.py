from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, BrokenLink, entry_hash, first_broken_link
from audit.models import ChainHead, Event


def _hashed_fields(event: Event) -> dict:
    return {
        "plant": event.plant_id,
        "actor": event.actor_name,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "payload": event.payload,
        "created_at": event.created_at.isoformat(),
    }


# No savepoint of its own: a failed append fails the caller's transaction anyway, and the savepoint's two round
# trips would lengthen the time every writer holds the chain head.
@transaction.atomic(savepoint=False)
def event_append(*, action: str, obj: models.Model, actor=None, plant=None, payload: dict | None = None) -> Event:
    """Append an entry to the hash-chained log inside the caller's transaction."""
    head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1, defaults={"last_hash": GENESIS_HASH})
    actor_user = actor if actor is not None and actor.is_authenticated else None
    event = Event(
        plant=plant,
        actor=actor_user,
        actor_name=actor_user.get_username() if actor_user else "system",
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        payload=payload or {},
        created_at=timezone.now(),
        previous_hash=head.last_hash,
    )
    # JSON round-trip so the hashed payload is exactly what the database will give back.
    event.payload = _json_roundtrip(event.payload)
    event.entry_hash = entry_hash(event.previous_hash, _hashed_fields(event))
    event.save()
    head.last_hash = event.entry_hash
    head.last_event_id = event.pk
    head.save(update_fields=["last_hash", "last_event_id"])
    return event


def _json_roundtrip(payload: dict) -> dict:
    return json.loads(json.dumps(payload, cls=DjangoJSONEncoder))


def log_verify() -> tuple[int, BrokenLink | None]:
    """Return the number of entries checked and the first broken link, if any."""
    events = Event.objects.order_by("id").iterator(chunk_size=2000)
    count = 0

    def rows():
        nonlocal count
        for event in events:
            count += 1
            yield event.pk, event.previous_hash, event.entry_hash, _hashed_fields(event)

    broken = first_broken_link(rows())
    head = ChainHead.objects.filter(pk=1).first()
    if broken is None and head is not None and head.last_hash != (
        Event.objects.order_by("-id").values_list("entry_hash", flat=True).first() or GENESIS_HASH
    ):
        broken = BrokenLink(head.last_event_id or 0, "the newest entries were removed")
    return count, broken
