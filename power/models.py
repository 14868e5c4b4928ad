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
    clock_version = models.PositiveIntegerField(default=0, help_text="Bumped when a sync pair changes the correction.")
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


class CrawlerToken(models.Model):
    """A plant's crawler credential: only its SHA-256 is stored; revoking it locks the crawler out at once."""

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="crawler_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="Which Pi holds it.")
    key_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.plant.code} token #{self.pk}"


class Upload(models.Model):
    """A PW3360 CSV file as received, kept byte for byte with its digest (the idempotency key)."""

    class Source(models.TextChoices):
        CRAWLER = "crawler", "Crawler"
        MANUAL = "manual", "Manual upload"

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        FAILED = "failed", "Whole file rejected"

    logger = models.ForeignKey(Logger, on_delete=models.PROTECT, related_name="uploads")
    sha256 = models.CharField(max_length=64)
    filename = models.CharField(max_length=200)
    remote_path = models.CharField(max_length=500, blank=True)
    raw_file = models.FileField(upload_to="pw3360/%Y/%m/")
    size_bytes = models.PositiveIntegerField()
    source = models.CharField(max_length=16, choices=Source.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    error = models.TextField(blank=True)
    interval_s = models.PositiveIntegerField(null=True, blank=True)
    reading_count = models.PositiveIntegerField(default=0)
    rejected = models.JSONField(default=list, blank=True)
    crawler_view = models.JSONField(null=True, blank=True, help_text="The crawler's own corrected rows, as sent.")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["logger", "sha256"], name="upload_once_per_logger")]


class SyncPair(models.Model):
    """A clock reading: what the logger showed at a reference instant (offset = reference - logger)."""

    logger = models.ForeignKey(Logger, on_delete=models.PROTECT, related_name="sync_pairs")
    logger_time = models.DateTimeField(help_text="The logger clock's reading, taken in the plant's zone.")
    reference_time = models.DateTimeField()
    offset_s = models.DecimalField(max_digits=12, decimal_places=3)
    uncertainty_s = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    probe = models.CharField(max_length=32)
    stale = models.BooleanField(default=False, help_text="Offset carried over because the probe could not measure.")
    upload = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL, related_name="sync_pairs")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["logger", "logger_time"]
        constraints = [models.UniqueConstraint(fields=["logger", "logger_time", "probe"], name="sync_pair_once")]


class Reading(models.Model):
    """One logger row: the energy of the interval (time - interval_s, time], multiplier not yet applied."""

    logger = models.ForeignKey(Logger, on_delete=models.PROTECT, related_name="readings")
    upload = models.ForeignKey(Upload, on_delete=models.PROTECT, related_name="readings")
    logger_time = models.DateTimeField(help_text="As stamped by the logger clock (read in the plant's zone).")
    start_time = models.DateTimeField(help_text="Corrected start of the interval.")
    time = models.DateTimeField(help_text="Corrected end of the interval.")
    interval_s = models.PositiveIntegerField()
    cumulative_wh = models.DecimalField(max_digits=18, decimal_places=3)
    energy_wh = models.DecimalField(max_digits=18, decimal_places=3, null=True, blank=True)
    correction_version = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["logger", "logger_time"], name="one_reading_per_logger_time")]
        indexes = [models.Index(fields=["logger", "time"]), models.Index(fields=["logger", "start_time"])]


class RunEnergy(models.Model):
    """The metered energy of one run, recomputed whenever its readings or their correction change."""

    run = models.OneToOneField("lots.Run", on_delete=models.CASCADE, related_name="energy")
    energy_kwh = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    covered_s = models.DecimalField(max_digits=14, decimal_places=3)
    expected_s = models.DecimalField(max_digits=14, decimal_places=3)
    logger_count = models.PositiveSmallIntegerField()
    computed_at = models.DateTimeField(auto_now=True)

