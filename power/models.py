from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from plants.models import Line, Plant


class Logger(models.Model):
    """A PW3360 power logger metering one line (possibly with others) through a VT/CT multiplier."""

    class MultiplierKind(models.TextChoices):
        # JIS C 1731 kinds of meter multiplier for instrument transformers.
        POWER_OF_TEN = "power_of_ten", "Integral power of ten"
        R = "r", "Combined transformation ratio (R)"
        D = "d", "One tenth of the combined ratio (D)"

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="loggers")
    line = models.ForeignKey(Line, on_delete=models.PROTECT, related_name="loggers")
    code = models.CharField(max_length=40)
    multiplier = models.DecimalField(
        max_digits=14, decimal_places=6, default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.000001")), MaxValueValidator(Decimal("1000000"))],
    )
    multiplier_kind = models.CharField(max_length=16, choices=MultiplierKind.choices, default=MultiplierKind.POWER_OF_TEN)
    host = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plant", "code"], name="logger_code_unique_in_plant")]

    def __str__(self) -> str:
        return self.code


class EmissionFactor(models.Model):
    """Grid emission factor of a plant's electricity, valid from a date until the next one."""

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="emission_factors")
    valid_from = models.DateField()
    kg_co2_per_kwh = models.DecimalField(
        max_digits=10, decimal_places=6, validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("5"))]
    )
    source = models.CharField(max_length=300)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plant", "-valid_from"]
        constraints = [models.UniqueConstraint(fields=["plant", "valid_from"], name="one_factor_per_plant_and_date")]
