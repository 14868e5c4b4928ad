from __future__ import annotations

from rest_framework import serializers

from moira.api import ModelSerializer, PlantScopedField
from plants.models import Line, Plant
from plants.selectors import MANAGER_ROLES
from power.models import EmissionFactor, Logger


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
