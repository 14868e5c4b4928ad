from __future__ import annotations

import datetime as dt

from django.db import transaction

from moira.services import ensure_unique, reject, save_and_log
from plants.models import Line, Membership, Organisation, Plant, Role


@transaction.atomic
def organisation_create(*, code: str, name: str, actor) -> Organisation:
    ensure_unique(Organisation.objects.filter(code=code), "code", f"An organisation with code {code!r} exists already.")
    return save_and_log(Organisation(code=code, name=name), action="organisation.create", actor=actor, plant=None,
                        payload={"code": code, "name": name})


@transaction.atomic
def plant_create(
    *, code: str, name: str, timezone: str, closing_time: dt.time, actor, organisation: Organisation | None = None
) -> Plant:
    """Create a plant; a manager who creates it becomes its manager."""
    ensure_unique(Plant.objects.filter(code=code), "code", f"A plant with code {code!r} exists already.")
    if organisation is None:
        organisations = Organisation.objects.filter(plants__memberships__user=actor, plants__memberships__role=Role.MANAGER).distinct()
        if organisations.count() != 1:
            raise reject("organisation", "Name the organisation that operates the plant.")
        organisation = organisations.get()
    plant = save_and_log(
        Plant(organisation=organisation, code=code, name=name, timezone=timezone, closing_time=closing_time),
        action="plant.create", actor=actor, plant=None,
        payload={"code": code, "timezone": timezone, "closing_time": closing_time.isoformat()},
    )
    if not actor.is_superuser:
        membership_grant(user=actor, plant=plant, role=Role.MANAGER, actor=actor)
    return plant


@transaction.atomic
def membership_grant(*, user, plant: Plant, role: str, actor, buyer: Organisation | None = None) -> Membership:
    membership = Membership.objects.filter(user=user, plant=plant).first() or Membership(user=user, plant=plant)
    membership.role, membership.buyer = role, buyer
    save_and_log(membership, action="membership.grant", actor=actor, plant=plant,
                 payload={"user": user.get_username(), "role": role, "buyer": buyer.code if buyer else None})
    return membership


@transaction.atomic
def line_create(*, plant: Plant, code: str, name: str, actor) -> Line:
    ensure_unique(plant.lines.filter(code=code), "code", f"Line {code!r} exists already in plant {plant.code}.")
    return save_and_log(Line(plant=plant, code=code, name=name), action="line.create", actor=actor, plant=plant,
                        payload={"code": code, "name": name})
