from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone such as 'Asia/Tokyo'.")


class Organisation(models.Model):
    """A company: the operator of plants, or a steel mill that buys their scrap."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Plant(models.Model):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="plants")
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="Asia/Tokyo", validators=[validate_timezone])
    closing_time = models.TimeField(help_text="Business closing time in the plant's zone; the crawler runs after it.")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.code

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Role(models.TextChoices):
    WORKER = "worker", "Worker"
    MANAGER = "manager", "Manager"
    AUDITOR = "auditor", "Auditor"
    BUYER = "buyer", "Buyer"


class Membership(models.Model):
    """Grant a user a role at one plant; a buyer sees only the shipments to its `buyer` organisation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    plant = models.ForeignKey(Plant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    buyer = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="buyer_memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "plant"], name="one_role_per_user_and_plant"),
            models.CheckConstraint(
                condition=models.Q(role="buyer", buyer__isnull=False) | (~models.Q(role="buyer") & models.Q(buyer__isnull=True)),
                name="buyer_role_names_its_organisation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} @ {self.plant}"


class Line(models.Model):
    """A group of equipment metered together (pre-shredder, shredder line, sorting line)."""

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="lines")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plant", "code"], name="line_code_unique_in_plant")]

    def __str__(self) -> str:
        return f"{self.plant.code}/{self.code}"
