from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from moira.api import ModelSerializer, PlantScopedField
from plants.models import Line, Organisation, Plant, validate_timezone
from plants.selectors import MANAGER_ROLES


@extend_schema_field({"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2})?$", "example": "17:30"})
class ClockTimeField(serializers.TimeField):
    """A plant's local wall-clock time, shown as HH:MM; HH:MM:SS is read too. Not RFC 3339 `time`: no offset."""

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"], **kwargs)


class OrganisationSerializer(ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "code", "name", "created_at"]


class OrganisationInputSerializer(serializers.Serializer):
    code = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=200)


class PlantSerializer(ModelSerializer):
    closing_time = ClockTimeField()

    class Meta:
        model = Plant
        fields = ["id", "organisation", "code", "name", "timezone", "closing_time", "created_at"]


class PlantInputSerializer(serializers.Serializer):
    code = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=200)
    timezone = serializers.CharField(max_length=64)
    closing_time = ClockTimeField()
    organisation = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all(), required=False)

    def validate_timezone(self, value):
        validate_timezone(value)
        return value


class LineSerializer(ModelSerializer):
    class Meta:
        model = Line
        fields = ["id", "plant", "code", "name", "created_at"]


class LineInputSerializer(serializers.Serializer):
    plant = PlantScopedField(Plant, plant_path="pk", roles=MANAGER_ROLES)
    code = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=200)
