"""The thread of each used product: intake, label, dismantling, lot, runs, outputs, shipment."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from plants.models import Line, Organisation, Plant

USER = settings.AUTH_USER_MODEL
# Limits that catch typing slips (a tonne typed as kilograms, an extra zero) before they reach a certificate.
MAX_UNIT_MASS_KG = Decimal("5000")
MAX_SHIPMENT_MASS_KG = Decimal("40000")
MAX_LOT_MASS_KG = Decimal("500000")
POSITIVE_MASS = [MinValueValidator(Decimal("0.001"))]


def mass_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=12, decimal_places=3, **kwargs)


def pct_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=9, decimal_places=4, **kwargs)


class ProductKind(models.TextChoices):
    VENDING_MACHINE = "vending_machine", "Vending machine"
    VEHICLE = "vehicle", "End-of-life vehicle"


class Part(models.Model):
    """An entry of the parts catalogue of one product kind (cooling unit, harness, ...)."""

    kind = models.CharField(max_length=24, choices=ProductKind.choices)
    code = models.SlugField(max_length=40)
    name_ja = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    legally_required = models.BooleanField(default=False, help_text="Removed in every pattern by law.")
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["kind", "sort_order", "code"]
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="part_code_unique_in_kind")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.code}"


class ModelProfile(models.Model):
    """A row of the model parts database: per model key, each part's mass and Cu and Cr mass.

    Vending machines are keyed by maker and selection-count band (the report's database); vehicles, and
    vending machines whose exact model was analysed, by maker and model.
    """

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="model_profiles")
    kind = models.CharField(max_length=24, choices=ProductKind.choices)
    maker = models.CharField(max_length=100)
    model = models.CharField(max_length=100, blank=True, help_text="Blank for a selection-band profile.")
    selection_min = models.PositiveSmallIntegerField(null=True, blank=True)
    selection_max = models.PositiveSmallIntegerField(null=True, blank=True)
    unit_mass_kg = mass_field(null=True, blank=True, validators=[*POSITIVE_MASS, MaxValueValidator(MAX_UNIT_MASS_KG)])
    source = models.CharField(max_length=200, blank=True, help_text="Where the values come from.")
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["plant", "kind", "maker"])]

    def __str__(self) -> str:
        band = f"{self.selection_min or 0}-{self.selection_max or '∞'} sel." if not self.model else self.model
        return f"{self.maker} {band}"


class ModelPartMass(models.Model):
    profile = models.ForeignKey(ModelProfile, on_delete=models.CASCADE, related_name="part_masses")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="+")
    mass_kg = mass_field(null=True, blank=True, validators=[MinValueValidator(Decimal("0")), MaxValueValidator(MAX_UNIT_MASS_KG)])
    cu_mass_kg = mass_field(validators=[MinValueValidator(Decimal("0")), MaxValueValidator(MAX_UNIT_MASS_KG)])
    cr_mass_kg = mass_field(validators=[MinValueValidator(Decimal("0")), MaxValueValidator(MAX_UNIT_MASS_KG)])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["profile", "part"], name="one_mass_per_part_in_profile")]


class Intake(models.Model):
    """Units received under one slip (伝票)."""

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="intakes")
    slip_number = models.CharField(max_length=64)
    supplier = models.CharField(max_length=200, blank=True)
    received_on = models.DateField()
    expected_count = models.PositiveIntegerField(validators=[MaxValueValidator(10000)])
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plant", "slip_number"], name="slip_unique_in_plant")]

    def __str__(self) -> str:
        return self.slip_number


class ProductStatus(models.TextChoices):
    REGISTERED = "registered", "Registered"
    DISMANTLED = "dismantled", "Dismantled"
    RESERVED = "reserved", "Reserved for shredding"
    SHREDDED = "shredded", "Shredded"


class Product(models.Model):
    """One used unit: a vending machine or an end-of-life vehicle."""

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="products")
    intake = models.ForeignKey(Intake, null=True, blank=True, on_delete=models.PROTECT, related_name="products")
    kind = models.CharField(max_length=24, choices=ProductKind.choices)
    maker = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=100, blank=True)
    serial_number = models.CharField(max_length=100, blank=True, help_text="Nameplate serial (製造番号).")
    selection_count = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(200)])
    manufactured_year = models.PositiveSmallIntegerField(null=True, blank=True)
    vin = models.CharField(max_length=32, blank=True, help_text="Chassis number (車台番号) or VIN.")
    recycling_ticket_id = models.CharField(max_length=32, blank=True, help_text="Recycling-system ticket (リサイクル券).")
    unit_mass_kg = mass_field(null=True, blank=True, validators=[*POSITIVE_MASS, MaxValueValidator(MAX_UNIT_MASS_KG)])
    status = models.CharField(max_length=16, choices=ProductStatus.choices, default=ProductStatus.REGISTERED)
    lot = models.ForeignKey("Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="products")
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["plant", "status"]), models.Index(fields=["plant", "maker", "model"])]

    def __str__(self) -> str:
        return f"{self.maker} {self.model} #{self.pk}".strip()


class LabelStatus(models.TextChoices):
    ISSUED = "issued", "Issued, not attached"
    ATTACHED = "attached", "Attached to a product"
    RETIRED = "retired", "Retired (never reused)"


class Label(models.Model):
    """A printed QR label. A code is attached at most once and never reused."""

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="labels")
    code = models.CharField(max_length=16, unique=True)
    status = models.CharField(max_length=16, choices=LabelStatus.choices, default=LabelStatus.ISSUED)
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT, related_name="labels")
    issued_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    issued_at = models.DateTimeField(auto_now_add=True)
    attached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["product"], condition=models.Q(status="attached"), name="one_attached_label_per_product"
            )
        ]

    def __str__(self) -> str:
        return self.code


class Relabelling(models.Model):
    """An explicit change of a product's label (faded, torn, wrong unit), with the reason."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="relabellings")
    old_label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="+")
    new_label = models.ForeignKey(Label, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


class DismantlingPattern(models.TextChoices):
    BLANK = "blank", "Blank (legal removals only)"
    PATTERN_1 = "pattern_1", "Pattern ① (cooling unit)"
    PATTERN_2 = "pattern_2", "Pattern ② (precise dismantling)"
    CUSTOM = "custom", "Custom"


class Dismantling(models.Model):
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="dismantlings")
    pattern = models.CharField(max_length=16, choices=DismantlingPattern.choices)
    performed_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


class RemovedPart(models.Model):
    dismantling = models.ForeignKey(Dismantling, on_delete=models.CASCADE, related_name="removed_parts")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="removed_parts")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="+")
    measured_mass_kg = mass_field(null=True, blank=True, validators=[*POSITIVE_MASS, MaxValueValidator(MAX_UNIT_MASS_KG)])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["product", "part"], name="part_removed_once")]


class Photo(models.Model):
    """Evidence photo (dismantling, nameplate); kept with its digest."""

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="photos")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.PROTECT, related_name="photos")
    dismantling = models.ForeignKey(Dismantling, null=True, blank=True, on_delete=models.PROTECT, related_name="photos")
    purpose = models.CharField(max_length=16, choices=[("dismantling", "Dismantling"), ("nameplate", "Nameplate")])
    image = models.FileField(upload_to="photos/%Y/%m/")
    sha256 = models.CharField(max_length=64)
    ocr_text = models.TextField(blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


class SortingMethod(models.Model):
    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="sorting_methods")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plant", "code"], name="sorting_code_unique_in_plant")]

    def __str__(self) -> str:
        return self.code


class Calibration(models.Model):
    """Recovery ratio and Cu/Cr distribution rates of a sorting method, valid from a date (versioned)."""

    class Source(models.TextChoices):
        MANUAL = "manual", "Entered (operating data)"
        BLANK_RUN = "blank_run", "Measured blank run"

    sorting_method = models.ForeignKey(SortingMethod, on_delete=models.PROTECT, related_name="calibrations")
    valid_from = models.DateField()
    magnetic_recovery_pct = pct_field(validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))])
    cu_to_magnetic_pct = pct_field(validators=[MinValueValidator(Decimal("0"))])
    cr_to_magnetic_pct = pct_field(validators=[MinValueValidator(Decimal("0"))])
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    blank_lot = models.ForeignKey("Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sorting_method", "-valid_from", "-id"]


class Lot(models.Model):
    """A shredding lot: products reserved together and fed in one or more metered runs."""

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="lots")
    code = models.CharField(max_length=64)
    sorting_method = models.ForeignKey(SortingMethod, null=True, blank=True, on_delete=models.PROTECT, related_name="lots")
    processed_mass_kg = mass_field(validators=[*POSITIVE_MASS, MaxValueValidator(MAX_LOT_MASS_KG)])
    planned_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plant", "code"], name="lot_code_unique_in_plant")]

    def __str__(self) -> str:
        return self.code


class Run(models.Model):
    """One metered run of a lot on a line; `ended_at` is empty while the run is in progress."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="runs")
    line = models.ForeignKey(Line, on_delete=models.PROTECT, related_name="runs")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    stopped_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["started_at"]
        indexes = [models.Index(fields=["line", "started_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gt=models.F("started_at")),
                name="run_ends_after_it_starts",
            ),
            models.UniqueConstraint(fields=["line"], condition=models.Q(ended_at__isnull=True), name="one_open_run_per_line"),
        ]


class Fraction(models.TextChoices):
    MAGNETIC = "magnetic", "Magnetic product (磁着物)"
    MIXED_METAL = "mixed_metal", "Mixed non-ferrous (ミックスメタル)"
    DUST = "dust", "Dust / shredder residue"
    OTHER = "other", "Other"


class Output(models.Model):
    """A weighed output fraction of a lot."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="outputs")
    fraction = models.CharField(max_length=16, choices=Fraction.choices)
    mass_kg = mass_field(validators=[*POSITIVE_MASS, MaxValueValidator(MAX_LOT_MASS_KG)])
    weighed_at = models.DateTimeField()
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["lot", "fraction"], name="one_weight_per_fraction")]


class Analysis(models.Model):
    """A measured Cu/Cr analysis of a lot's output fraction (XRF, ICP); used to calibrate and to compare."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="analyses")
    fraction = models.CharField(max_length=16, choices=Fraction.choices, default=Fraction.MAGNETIC)
    cu_mass_pct = pct_field(validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))])
    cr_mass_pct = pct_field(validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))])
    method = models.CharField(max_length=200, help_text="e.g. handheld XRF, ~100 pieces; JIS M 8121")
    sampled_on = models.DateField()
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)


class Shipment(models.Model):
    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="shipments")
    buyer = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="purchases")
    code = models.CharField(max_length=64, blank=True)
    shipped_at = models.DateTimeField()
    mass_kg = mass_field(validators=[*POSITIVE_MASS, MaxValueValidator(MAX_SHIPMENT_MASS_KG)])
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["plant", "buyer"])]


class ShipmentAllocation(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="allocations")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="allocations")
    mass_kg = mass_field(validators=POSITIVE_MASS)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shipment", "lot"], name="lot_once_per_shipment")]


class Certificate(models.Model):
    """An issued certificate: immutable; a changed computation issues a new one that supersedes it."""

    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="certificates")
    shipment = models.ForeignKey(Shipment, null=True, blank=True, on_delete=models.PROTECT, related_name="certificates")
    revision = models.PositiveIntegerField()
    payload = models.JSONField()
    digest = models.CharField(max_length=64, unique=True)
    issued_at = models.DateTimeField(auto_now_add=True)
    superseded_by = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="supersedes")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(lot__isnull=False, shipment__isnull=True) | models.Q(lot__isnull=True, shipment__isnull=False),
                name="certificate_of_a_lot_or_a_shipment",
            ),
            models.UniqueConstraint(fields=["lot", "revision"], name="lot_certificate_revision_unique"),
            models.UniqueConstraint(fields=["shipment", "revision"], name="shipment_certificate_revision_unique"),
        ]


class AcceptanceCondition(models.Model):
    """What a buyer accepts from a plant: Cu and Cr maxima and/or a grade such as "Cu2-Cr2"; the newest applies."""

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="acceptance_conditions")
    buyer = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="acceptance_conditions")
    max_cu_mass_pct = pct_field(null=True, blank=True, validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))])
    max_cr_mass_pct = pct_field(null=True, blank=True, validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))])
    grade_label = models.CharField(max_length=20, blank=True, help_text='The worst grade accepted, e.g. "Cu2-Cr2".')
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_cu_mass_pct__isnull=False) | models.Q(max_cr_mass_pct__isnull=False) | ~models.Q(grade_label=""),
                name="acceptance_condition_sets_a_limit",
            )
        ]


class ShipmentAlert(models.Model):
    """A planned shipment that breaks its buyer's acceptance condition, raised when staff preview it.

    Both sides see it before dispatch: plant staff on the dashboard, the buyer in its portal. When the
    shipment is then recorded with the same lots and masses, the alert points at it.
    """

    plant = models.ForeignKey(Plant, on_delete=models.PROTECT, related_name="shipment_alerts")
    buyer = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="shipment_alerts")
    condition = models.ForeignKey(AcceptanceCondition, on_delete=models.PROTECT, related_name="alerts")
    # SHA-256 of the lots and masses: the same plan previewed twice is one alert, and the shipment finds it.
    plan_sha256 = models.CharField(max_length=64)
    allocations = models.JSONField(help_text='[{"lot": code, "mass_kg": "…"}]')
    cu_mass_pct = pct_field(null=True, blank=True)
    cr_mass_pct = pct_field(null=True, blank=True)
    grade_label = models.CharField(max_length=20, blank=True)
    problems = models.JSONField()
    raised_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    raised_at = models.DateTimeField(auto_now_add=True)
    shipment = models.ForeignKey(Shipment, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plant", "buyer", "condition", "plan_sha256"], name="one_alert_per_plan")]
        indexes = [models.Index(fields=["plant", "buyer", "raised_at"])]
