from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from lots import codes
from lots.models import (
    MAX_SHIPMENT_MASS_KG,
    MAX_UNIT_MASS_KG,
    AcceptanceCondition,
    Analysis,
    Calibration,
    Dismantling,
    DismantlingPattern,
    Fraction,
    Intake,
    Label,
    LabelStatus,
    Lot,
    ModelPartMass,
    ModelProfile,
    Output,
    Part,
    Photo,
    Product,
    ProductKind,
    Relabelling,
    Run,
    Shipment,
    ShipmentAlert,
    ShipmentAllocation,
    SortingMethod,
)
from moira.api import AwareDateTimeField, ModelSerializer, PlantScopedField
from plants.models import Line, Organisation, Plant
from plants.selectors import MANAGER_ROLES


def mass(max_kg: Decimal | None = None, **kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=3, min_value=Decimal("0.001"), max_value=max_kg, **kwargs)


def pct(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=9, decimal_places=4, min_value=Decimal("0"), **kwargs)


class PartSerializer(ModelSerializer):
    class Meta:
        model = Part
        fields = ["id", "kind", "code", "name_ja", "name_en", "legally_required"]


class ModelPartMassSerializer(ModelSerializer):
    part_code = serializers.CharField(source="part.code", read_only=True)

    class Meta:
        model = ModelPartMass
        fields = ["part", "part_code", "mass_kg", "cu_mass_kg", "cr_mass_kg"]


class ModelProfileSerializer(ModelSerializer):
    parts = ModelPartMassSerializer(source="part_masses", many=True, read_only=True)

    class Meta:
        model = ModelProfile
        fields = ["id", "plant", "kind", "maker", "model", "selection_min", "selection_max", "unit_mass_kg",
                  "source", "parts", "created_at"]


class ModelProfileInputSerializer(serializers.Serializer):
    class PartRow(serializers.Serializer):
        part = serializers.PrimaryKeyRelatedField(queryset=Part.objects.all())
        mass_kg = mass(MAX_UNIT_MASS_KG, required=False, allow_null=True)
        cu_mass_kg = serializers.DecimalField(max_digits=12, decimal_places=3, min_value=Decimal("0"), max_value=MAX_UNIT_MASS_KG)
        cr_mass_kg = serializers.DecimalField(max_digits=12, decimal_places=3, min_value=Decimal("0"), max_value=MAX_UNIT_MASS_KG)

    plant = PlantScopedField(Plant, plant_path="pk", roles=MANAGER_ROLES)
    kind = serializers.ChoiceField(choices=ProductKind.choices)
    maker = serializers.CharField(max_length=100)
    model = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    selection_min = serializers.IntegerField(min_value=1, max_value=200, required=False, allow_null=True)
    selection_max = serializers.IntegerField(min_value=1, max_value=200, required=False, allow_null=True)
    unit_mass_kg = mass(MAX_UNIT_MASS_KG, required=False, allow_null=True)
    source = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    parts = PartRow(many=True)


class IntakeSerializer(ModelSerializer):
    registered_count = serializers.SerializerMethodField()

    class Meta:
        model = Intake
        fields = ["id", "plant", "slip_number", "supplier", "received_on", "expected_count", "registered_count", "created_at"]

    def get_registered_count(self, intake: Intake) -> int:
        # Lists annotate the count in their one query; a single intake (just created) counts its own.
        counted = getattr(intake, "products_count", None)
        return intake.products.count() if counted is None else counted


class IntakeInputSerializer(serializers.Serializer):
    plant = PlantScopedField(Plant, plant_path="pk")
    slip_number = serializers.CharField(max_length=64)
    supplier = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    received_on = serializers.DateField()
    expected_count = serializers.IntegerField(min_value=1, max_value=10000)


class LabelSerializer(ModelSerializer):
    display = serializers.SerializerMethodField()

    class Meta:
        model = Label
        fields = ["id", "plant", "code", "display", "status", "product", "issued_at", "attached_at"]

    def get_display(self, label: Label) -> str:
        return codes.display(label.code)


class LabelIssueSerializer(serializers.Serializer):
    plant = PlantScopedField(Plant, plant_path="pk")
    count = serializers.IntegerField(min_value=1, max_value=500)


class ProductSerializer(ModelSerializer):
    label = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["id", "plant", "intake", "kind", "maker", "model", "serial_number", "selection_count",
                  "manufactured_year", "vin", "recycling_ticket_id", "unit_mass_kg", "status", "lot", "label", "created_at"]

    def get_label(self, product: Product) -> str | None:
        attached = [lb for lb in product.labels.all() if lb.status == LabelStatus.ATTACHED]
        return codes.display(attached[0].code) if attached else None


class ProductInputSerializer(serializers.Serializer):
    plant = PlantScopedField(Plant, plant_path="pk")
    kind = serializers.ChoiceField(choices=ProductKind.choices, default=ProductKind.VENDING_MACHINE)
    intake = PlantScopedField(Intake, required=False, allow_null=True)
    label = serializers.CharField(max_length=32, required=False, allow_blank=True, default="",
                                  help_text="QR label code to attach now, e.g. 7KQ2-M9XA-4.")
    maker = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    model = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    serial_number = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    selection_count = serializers.IntegerField(min_value=1, max_value=200, required=False, allow_null=True)
    manufactured_year = serializers.IntegerField(min_value=1950, max_value=2100, required=False, allow_null=True)
    vin = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    recycling_ticket_id = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    unit_mass_kg = mass(MAX_UNIT_MASS_KG, required=False, allow_null=True)
    nameplate_photo = PlantScopedField(Photo, required=False, allow_null=True,
                                       help_text="The photo read by nameplates/ before the unit existed; kept as its evidence.")

    def validate(self, attrs):
        if attrs["kind"] == ProductKind.VEHICLE and attrs.get("selection_count") is not None:
            raise serializers.ValidationError({"selection_count": "Vehicles have no selection count."})
        if attrs["kind"] == ProductKind.VENDING_MACHINE and (attrs.get("vin") or attrs.get("recycling_ticket_id")):
            raise serializers.ValidationError({"vin": "Chassis numbers and recycling tickets are for vehicles."})
        return attrs


class LabelCodeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)


class RelabelSerializer(serializers.Serializer):
    new_code = serializers.CharField(max_length=64)
    reason = serializers.CharField(max_length=200)


class RelabellingSerializer(ModelSerializer):
    old_code = serializers.CharField(source="old_label.code")
    new_code = serializers.CharField(source="new_label.code")

    class Meta:
        model = Relabelling
        fields = ["id", "product", "old_code", "new_code", "reason", "created_at"]


class DismantlingSerializer(ModelSerializer):
    parts = serializers.SerializerMethodField()

    class Meta:
        model = Dismantling
        fields = ["id", "product", "pattern", "performed_at", "note", "parts", "created_at"]

    def get_parts(self, dismantling: Dismantling) -> list[dict]:
        return [
            {"part": rp.part_id, "code": rp.part.code, "measured_mass_kg": None if rp.measured_mass_kg is None else str(rp.measured_mass_kg)}
            for rp in dismantling.removed_parts.all()
        ]


class DismantlingInputSerializer(serializers.Serializer):
    class RemovedRow(serializers.Serializer):
        part = serializers.PrimaryKeyRelatedField(queryset=Part.objects.all())
        measured_mass_kg = mass(MAX_UNIT_MASS_KG, required=False, allow_null=True)

    product = PlantScopedField(Product)
    pattern = serializers.ChoiceField(choices=DismantlingPattern.choices)
    performed_at = AwareDateTimeField()
    parts = RemovedRow(many=True, required=False)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class SortingMethodSerializer(ModelSerializer):
    class Meta:
        model = SortingMethod
        fields = ["id", "plant", "code", "name", "created_at"]


class SortingMethodInputSerializer(serializers.Serializer):
    plant = PlantScopedField(Plant, plant_path="pk", roles=MANAGER_ROLES)
    code = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=200)


class CalibrationSerializer(ModelSerializer):
    class Meta:
        model = Calibration
        fields = ["id", "sorting_method", "valid_from", "magnetic_recovery_pct", "cu_to_magnetic_pct",
                  "cr_to_magnetic_pct", "source", "blank_lot", "note", "created_at"]


class CalibrationInputSerializer(serializers.Serializer):
    sorting_method = PlantScopedField(SortingMethod, roles=MANAGER_ROLES)
    valid_from = serializers.DateField()
    magnetic_recovery_pct = pct(max_value=Decimal("100"))
    cu_to_magnetic_pct = pct()
    cr_to_magnetic_pct = pct()
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class BlankRunCalibrationSerializer(serializers.Serializer):
    lot = PlantScopedField(Lot, roles=MANAGER_ROLES)
    analysis = PlantScopedField(Analysis, plant_path="lot__plant", roles=MANAGER_ROLES)
    valid_from = serializers.DateField()


class RunSerializer(ModelSerializer):
    class Meta:
        model = Run
        fields = ["id", "lot", "line", "started_at", "ended_at", "created_at"]


class RunInputSerializer(serializers.Serializer):
    line = PlantScopedField(Line)
    started_at = AwareDateTimeField()
    ended_at = AwareDateTimeField(required=False, allow_null=True)


class RunStopSerializer(serializers.Serializer):
    ended_at = AwareDateTimeField()


class OutputSerializer(ModelSerializer):
    class Meta:
        model = Output
        fields = ["id", "lot", "fraction", "mass_kg", "weighed_at", "created_at"]


class OutputInputSerializer(serializers.Serializer):
    lot = PlantScopedField(Lot)
    fraction = serializers.ChoiceField(choices=Fraction.choices)
    mass_kg = mass()
    weighed_at = AwareDateTimeField()


class AnalysisSerializer(ModelSerializer):
    class Meta:
        model = Analysis
        fields = ["id", "lot", "fraction", "cu_mass_pct", "cr_mass_pct", "method", "sampled_on", "created_at"]


class AnalysisInputSerializer(serializers.Serializer):
    lot = PlantScopedField(Lot, roles=MANAGER_ROLES)
    fraction = serializers.ChoiceField(choices=Fraction.choices, default=Fraction.MAGNETIC)
    cu_mass_pct = pct(max_value=Decimal("100"))
    cr_mass_pct = pct(max_value=Decimal("100"))
    method = serializers.CharField(max_length=200)
    sampled_on = serializers.DateField()


class LotSerializer(ModelSerializer):
    products = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    runs = RunSerializer(many=True, read_only=True)
    outputs = OutputSerializer(many=True, read_only=True)

    class Meta:
        model = Lot
        fields = ["id", "plant", "code", "sorting_method", "processed_mass_kg", "planned_on", "products", "runs",
                  "outputs", "created_at"]


class LotInputSerializer(serializers.Serializer):
    plant = PlantScopedField(Plant, plant_path="pk")
    code = serializers.CharField(max_length=64)
    processed_mass_kg = mass()
    sorting_method = PlantScopedField(SortingMethod, required=False, allow_null=True)
    planned_on = serializers.DateField(required=False, allow_null=True)
    products = PlantScopedField(Product, many=True, required=False)


class ReserveSerializer(serializers.Serializer):
    products = PlantScopedField(Product, many=True)


class AllocationSerializer(ModelSerializer):
    class Meta:
        model = ShipmentAllocation
        fields = ["lot", "mass_kg"]


class ShipmentSerializer(ModelSerializer):
    allocations = AllocationSerializer(many=True, read_only=True)

    class Meta:
        model = Shipment
        fields = ["id", "plant", "buyer", "code", "shipped_at", "mass_kg", "allocations", "created_at"]


class ShipmentInputSerializer(serializers.Serializer):
    class AllocationRow(serializers.Serializer):
        lot = PlantScopedField(Lot)
        mass_kg = mass(MAX_SHIPMENT_MASS_KG)

    plant = PlantScopedField(Plant, plant_path="pk")
    buyer = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    shipped_at = AwareDateTimeField()
    mass_kg = mass(MAX_SHIPMENT_MASS_KG)
    allocations = AllocationRow(many=True)


class ImageInputSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="A JPEG, PNG or WebP photo.")


class NameplateInputSerializer(ImageInputSerializer):
    kind = serializers.ChoiceField(choices=ProductKind.choices, default=ProductKind.VENDING_MACHINE)
    product = PlantScopedField(Product, required=False, allow_null=True, help_text="Keep the photo as this unit's evidence.")
    plant = PlantScopedField(Plant, plant_path="pk", required=False, allow_null=True)


class PhotoSerializer(ModelSerializer):
    class Meta:
        model = Photo
        fields = ["id", "plant", "product", "dismantling", "purpose", "sha256", "created_at"]


class AcceptanceConditionSerializer(ModelSerializer):
    class Meta:
        model = AcceptanceCondition
        fields = ["id", "plant", "buyer", "max_cu_mass_pct", "max_cr_mass_pct", "grade_label", "note", "created_at"]


class ShipmentAlertSerializer(ModelSerializer):
    class Meta:
        model = ShipmentAlert
        fields = ["id", "plant", "buyer", "condition", "allocations", "cu_mass_pct", "cr_mass_pct", "grade_label", "problems",
                  "raised_at", "shipment"]


class AcceptanceConditionInputSerializer(serializers.Serializer):
    plant = serializers.PrimaryKeyRelatedField(queryset=Plant.objects.all())
    buyer = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all(), required=False,
                                               help_text="A manager names the buyer; a buyer's own organisation is implied.")
    max_cu_mass_pct = pct(max_value=Decimal("100"), required=False, allow_null=True)
    max_cr_mass_pct = pct(max_value=Decimal("100"), required=False, allow_null=True)
    grade_label = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ShipmentPreviewSerializer(serializers.Serializer):
    plant = PlantScopedField(Plant, plant_path="pk")
    buyer = serializers.PrimaryKeyRelatedField(queryset=Organisation.objects.all())
    allocations = ShipmentInputSerializer.AllocationRow(many=True)
