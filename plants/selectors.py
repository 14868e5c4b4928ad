from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from plants.models import Membership, Organisation, Plant, Role

STAFF_ROLES = (Role.WORKER, Role.MANAGER, Role.AUDITOR)
WRITE_ROLES = (Role.WORKER, Role.MANAGER)
MANAGER_ROLES = (Role.MANAGER,)


def plants_for(user, roles: Iterable[str]) -> QuerySet[Plant]:
    """Return the plants where `user` holds one of `roles`; a superuser holds every role everywhere."""
    if not user or not user.is_authenticated:
        return Plant.objects.none()
    if user.is_superuser:
        return Plant.objects.all()
    return Plant.objects.filter(memberships__user=user, memberships__role__in=list(roles)).distinct()


def buyer_organisations_for(user) -> QuerySet[Organisation]:
    """Return the organisations whose shipments `user` may see as a buyer."""
    return Organisation.objects.filter(buyer_memberships__user=user).distinct()


def buyer_grants_for(user) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user, role=Role.BUYER)


def visible_to_staff_or_buyer(user) -> Q:
    """Rows (with `plant` and `buyer`) of the user's plants, or addressed to an organisation it buys for."""
    visible = Q(plant__in=plants_for(user, STAFF_ROLES))
    for grant in buyer_grants_for(user):
        visible |= Q(plant_id=grant.plant_id, buyer_id=grant.buyer_id)
    return visible
