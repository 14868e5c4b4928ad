from __future__ import annotations

from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from moira.api import AwareDateTimeField, ModelSerializer, PlantScopedField
from plants.models import Line, Plant
from plants.selectors import MANAGER_ROLES
from power.models import EmissionFactor, Logger, Upload


class LoggerSerializer(ModelSerializer):
    class Meta:
        model = Logger
        fields = ["id", "plant", "line", "code", "multiplier", "multiplier_kind", "host", "created_at"]


class LoggerInputSerializer(serializers.Serializer):
    plant = PlantScopedField(Plant, plant_path="pk", roles=MANAGER_ROLES)
    line = PlantScopedField(Line, roles=MANAGER_ROLES)
    code = serializers.CharField(max_length=40)
    multiplier = serializers.DecimalField(max_digits=14, decimal_places=6, min_value=0, required=False)
    multiplier_kind = serializers.ChoiceField(choices=Logger.MultiplierKind.choices, required=False)
    host = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate_multiplier(self, value):
        if value <= 0:
            raise serializers.ValidationError("The multiplier must be positive (1 when no VT/CT is used).")
        return value


class EmissionFactorSerializer(ModelSerializer):
    class Meta:
        model = EmissionFactor
        fields = ["id", "plant", "valid_from", "kg_co2_per_kwh", "source", "created_at"]


class EmissionFactorInputSerializer(serializers.Serializer):
    plant = PlantScopedField(Plant, plant_path="pk", roles=MANAGER_ROLES)
    valid_from = serializers.DateField()
    kg_co2_per_kwh = serializers.DecimalField(max_digits=10, decimal_places=6, min_value=0, max_value=5)
    source = serializers.CharField(max_length=300)


class LoggerClockField(serializers.Field):
    """A logger clock reading as printed: ISO 8601 without an offset (the logger knows no zone)."""

    def to_internal_value(self, data):
        parsed = parse_datetime(str(data)) if data is not None else None
        if parsed is None:
            raise serializers.ValidationError("Give the logger clock's reading as YYYY-MM-DDTHH:MM:SS.")
        if parsed.tzinfo is not None:
            raise serializers.ValidationError("Give the logger clock's reading as printed, without an offset.")
        return parsed

    def to_representation(self, value):
        return value.isoformat()


class SyncSerializer(serializers.Serializer):
    """The crawler's clock reading; `logger_time` is what the logger showed (no offset, the logger has no zone)."""

    probe = serializers.CharField(max_length=32)
    logger_time = LoggerClockField(allow_null=True, required=False)
    reference_time = AwareDateTimeField()
    offset_s = serializers.DecimalField(max_digits=12, decimal_places=3, required=False, allow_null=True)
    uncertainty_s = serializers.DecimalField(max_digits=9, decimal_places=3, required=False, allow_null=True)
    stale = serializers.BooleanField(required=False, default=False)


class UploadInputSerializer(serializers.Serializer):
    logger = serializers.CharField(max_length=40, help_text="The logger's code in the plant.")
    file = serializers.FileField()
    sha256 = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False, allow_blank=True, default="")
    remote_path = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    sync = serializers.JSONField(required=False)
    corrected = serializers.JSONField(required=False)
    plant = PlantScopedField(Plant, plant_path="pk", roles=MANAGER_ROLES, required=False,
                             help_text="For a manager's upload: the logger's plant (the crawler's token names it).")

    def validate_sync(self, value):
        sync = SyncSerializer(data=value)
        sync.is_valid(raise_exception=True)
        return sync.validated_data


class UploadSerializer(ModelSerializer):
    logger_code = serializers.CharField(source="logger.code", read_only=True)

    class Meta:
        model = Upload
        fields = ["id", "logger", "logger_code", "sha256", "filename", "remote_path", "size_bytes", "source", "status", "error",
                  "interval_s", "reading_count", "rejected", "received_at"]
