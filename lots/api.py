from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.generics import get_object_or_404  # unlike Django's, a non-numeric id is a 404, not a 500
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from lots import certificates, imaging, photos, selectors, services
from lots import serializers as s
from lots.models import (
    AcceptanceCondition,
    Analysis,
    Calibration,
    Dismantling,
    Intake,
    Label,
    Lot,
    ModelProfile,
    Output,
    Part,
    Product,
    Run,
    Shipment,
    ShipmentAlert,
    SortingMethod,
)
from lots.tasks import lot_certificate_refresh_task
from moira.api import ScopedViewSet, holds_role_somewhere
from moira.jobs import enqueue_after_commit
from moira.units import decimal_or_none
from plants.models import Role
from plants.selectors import MANAGER_ROLES, STAFF_ROLES, WRITE_ROLES, buyer_grants_for, plants_for, visible_to_staff_or_buyer
from power.tasks import runs_allocate_task


def _refresh_certificate_after_commit(lot_id: int) -> None:
    enqueue_after_commit(lot_certificate_refresh_task, lot_id)


def _allocate_after_commit(run_id: int) -> None:
    enqueue_after_commit(runs_allocate_task, [run_id])


def _validated(serializer_class, request, view):
    data = serializer_class(data=request.data, context=view.get_serializer_context())
    data.is_valid(raise_exception=True)
    return data.validated_data


class PartViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The parts catalogue of each product kind (reference data, the same for every plant)."""

    queryset = Part.objects.all()
    serializer_class = s.PartSerializer

    def get_queryset(self):
        kind = self.request.query_params.get("kind")
        return self.queryset.filter(kind=kind) if kind else self.queryset


class ModelProfileViewSet(ScopedViewSet):
    queryset = ModelProfile.objects.prefetch_related("part_masses__part").order_by("plant", "kind", "maker", "model")
    serializer_class = s.ModelProfileSerializer
    input_serializer_class = s.ModelProfileInputSerializer
    write_roles = MANAGER_ROLES

    def perform_service(self, data):
        return services.model_profile_create(actor=self.request.user, **data)


class IntakeViewSet(ScopedViewSet):
    queryset = Intake.objects.annotate(products_count=Count("products")).order_by("-received_on", "-id")  # one query, not one per slip
    serializer_class = s.IntakeSerializer
    input_serializer_class = s.IntakeInputSerializer

    def perform_service(self, data):
        return services.intake_create(actor=self.request.user, **data)


class LabelViewSet(ScopedViewSet):
    """Issue label codes to print (POST `{plant, count}` returns the new labels) and list them."""

    queryset = Label.objects.order_by("-issued_at", "-id")
    serializer_class = s.LabelSerializer
    input_serializer_class = s.LabelIssueSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        wanted = self.request.query_params.get("status")
        return queryset.filter(status=wanted) if wanted else queryset

    @extend_schema(request=s.LabelIssueSerializer, responses=s.LabelSerializer(many=True))
    def create(self, request, *args, **kwargs):
        data = _validated(s.LabelIssueSerializer, request, self)
        labels = services.labels_issue(actor=request.user, **data)
        return Response(s.LabelSerializer(labels, many=True).data, status=status.HTTP_201_CREATED)


class ProductViewSet(ScopedViewSet):
    """Used units. `?label=CODE` finds the product that carries a scanned label."""

    queryset = Product.objects.prefetch_related("labels").order_by("-id")
    serializer_class = s.ProductSerializer
    input_serializer_class = s.ProductInputSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        params = self.request.query_params
        if params.get("label"):
            product = selectors.product_by_label(plant_ids=plants_for(self.request.user, self.read_roles), raw_code=params["label"])
            queryset = queryset.filter(pk=product.pk)
        for field in ("status", "lot", "intake", "kind"):
            if params.get(field):
                queryset = queryset.filter(**{field: params[field]})
        return queryset

    def perform_service(self, data):
        return services.product_create(actor=self.request.user, label_code=data.pop("label"), **data)

    @extend_schema(request=s.LabelCodeSerializer, responses=s.ProductSerializer)
    @action(detail=True, methods=["post"])
    def label(self, request, pk=None):
        """Attach an issued label to a product that has none."""
        product = self._writable_product()
        services.label_attach(product=product, actor=request.user, **_validated(s.LabelCodeSerializer, request, self))
        return Response(s.ProductSerializer(Product.objects.get(pk=product.pk)).data)

    @extend_schema(request=s.RelabelSerializer, responses={201: s.RelabellingSerializer})
    @action(detail=True, methods=["post"])
    def relabel(self, request, pk=None):
        """Replace the product's label; the old code is retired with the reason."""
        relabelling = services.product_relabel(product=self._writable_product(), actor=request.user,
                                               **_validated(s.RelabelSerializer, request, self))
        return Response(s.RelabellingSerializer(relabelling).data, status=status.HTTP_201_CREATED)

    def _writable_product(self) -> Product:
        return get_object_or_404(Product, pk=self.kwargs["pk"], plant__in=plants_for(self.request.user, WRITE_ROLES))


class DismantlingViewSet(ScopedViewSet):
    queryset = Dismantling.objects.prefetch_related("removed_parts__part").order_by("-performed_at", "-id")
    serializer_class = s.DismantlingSerializer
    input_serializer_class = s.DismantlingInputSerializer
    plant_path = "product__plant"

    def perform_service(self, data):
        removed = [(row["part"], row.get("measured_mass_kg")) for row in data.pop("parts", [])]
        return services.dismantling_record(actor=self.request.user, removed=removed, **data)

    @extend_schema(request=s.ImageInputSerializer, responses={201: s.PhotoSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser], input_serializer_class=s.ImageInputSerializer)
    def photos(self, request, pk=None):
        """Keep a photo of the removed parts as evidence of this dismantling."""
        dismantling = get_object_or_404(Dismantling.objects.select_related("product__plant"), pk=pk,
                                        product__plant__in=plants_for(request.user, WRITE_ROLES))
        data, _ = _image_bytes(request, self)
        photos.image_open(data)
        photo = photos.photo_keep(plant=dismantling.product.plant, data=data, purpose="dismantling", product=dismantling.product,
                                  dismantling=dismantling, actor=request.user)
        return Response(s.PhotoSerializer(photo).data, status=status.HTTP_201_CREATED)


class SortingMethodViewSet(ScopedViewSet):
    queryset = SortingMethod.objects.order_by("plant", "code")
    serializer_class = s.SortingMethodSerializer
    input_serializer_class = s.SortingMethodInputSerializer
    write_roles = MANAGER_ROLES

    def perform_service(self, data):
        return services.sorting_method_create(actor=self.request.user, **data)


class CalibrationViewSet(ScopedViewSet):
    """Recovery ratio and distribution rates per sorting method, entered or derived from a blank run."""

    queryset = Calibration.objects.order_by("sorting_method", "-valid_from", "-id")
    serializer_class = s.CalibrationSerializer
    input_serializer_class = s.CalibrationInputSerializer
    plant_path = "sorting_method__plant"
    write_roles = MANAGER_ROLES

    def perform_service(self, data):
        return services.calibration_create(actor=self.request.user, **data)

    @extend_schema(request=s.BlankRunCalibrationSerializer, responses={201: s.CalibrationSerializer})
    @action(detail=False, methods=["post"], url_path="from-blank-run")
    def from_blank_run(self, request):
        calibration = services.calibration_from_blank_run(actor=request.user, **_validated(s.BlankRunCalibrationSerializer, request, self))
        return Response(s.CalibrationSerializer(calibration).data, status=status.HTTP_201_CREATED)


class LotViewSet(ScopedViewSet):
    # The lot lists only its products' ids: loading whole products made the app's list of 200 lots the costliest read.
    queryset = Lot.objects.prefetch_related(Prefetch("products", queryset=Product.objects.only("id", "lot_id")), "runs", "outputs").order_by("-id")
    serializer_class = s.LotSerializer
    input_serializer_class = s.LotInputSerializer

    def perform_service(self, data):
        return services.lot_create(actor=self.request.user, **data)

    def _writable_lot(self) -> Lot:
        return get_object_or_404(Lot, pk=self.kwargs["pk"], plant__in=plants_for(self.request.user, WRITE_ROLES))

    @extend_schema(request=s.ReserveSerializer, responses=s.LotSerializer)
    @action(detail=True, methods=["post"])
    def reserve(self, request, pk=None):
        """Reserve more products for this lot."""
        lot = services.lot_reserve(lot=self._writable_lot(), actor=request.user, **_validated(s.ReserveSerializer, request, self))
        return Response(s.LotSerializer(Lot.objects.get(pk=lot.pk)).data)

    @extend_schema(methods=["get"], responses=s.RunSerializer(many=True))
    @extend_schema(methods=["post"], request=s.RunInputSerializer, responses={201: s.RunSerializer})
    @action(detail=True, methods=["get", "post"])
    def runs(self, request, pk=None):
        """The lot's metered runs; POST starts one (with `ended_at`, records a finished one)."""
        if request.method == "GET":
            return Response(s.RunSerializer(self.get_object().runs.order_by("started_at"), many=True).data)
        run = services.run_start(lot=self._writable_lot(), actor=request.user, **_validated(s.RunInputSerializer, request, self))
        _allocate_after_commit(run.pk)
        return Response(s.RunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def certificate(self, request, pk=None):
        """The lot's certificate: Cu/Cr, grade, energy and CO2 with their inputs, and its digest."""
        return Response(certificates.certificate_document(certificates.lot_certificate(self.get_object())))


class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """All runs of the user's plants; `?open=true` lists the ones in progress; POST `stop` ends one."""

    queryset = Run.objects.select_related("lot", "line").order_by("-started_at")
    serializer_class = s.RunSerializer

    def get_queryset(self):
        queryset = self.queryset.filter(lot__plant__in=plants_for(self.request.user, STAFF_ROLES))
        if self.request.query_params.get("open") == "true":
            queryset = queryset.filter(ended_at__isnull=True)
        return queryset

    @extend_schema(request=s.RunStopSerializer, responses=s.RunSerializer)
    @action(detail=True, methods=["post"])
    def stop(self, request, pk=None):
        run = get_object_or_404(Run, pk=pk, lot__plant__in=plants_for(request.user, WRITE_ROLES))
        run = services.run_stop(run=run, actor=request.user, **_validated(s.RunStopSerializer, request, self))
        _allocate_after_commit(run.pk)
        return Response(s.RunSerializer(run).data)


class OutputViewSet(ScopedViewSet):
    queryset = Output.objects.order_by("-weighed_at", "-id")
    serializer_class = s.OutputSerializer
    input_serializer_class = s.OutputInputSerializer
    plant_path = "lot__plant"

    def perform_service(self, data):
        output = services.output_record(actor=self.request.user, **data)
        _refresh_certificate_after_commit(output.lot_id)
        return output


class AnalysisViewSet(ScopedViewSet):
    queryset = Analysis.objects.order_by("-sampled_on", "-id")
    serializer_class = s.AnalysisSerializer
    input_serializer_class = s.AnalysisInputSerializer
    plant_path = "lot__plant"
    write_roles = MANAGER_ROLES

    def perform_service(self, data):
        analysis = services.analysis_record(actor=self.request.user, **data)
        _refresh_certificate_after_commit(analysis.lot_id)
        return analysis


class ShipmentViewSet(ScopedViewSet):
    """Shipments of magnetic product. Buyers see only the shipments made to their organisation."""

    queryset = Shipment.objects.select_related("buyer").prefetch_related("allocations").order_by("-shipped_at", "-id")
    serializer_class = s.ShipmentSerializer
    input_serializer_class = s.ShipmentInputSerializer

    def get_queryset(self):
        return self.queryset.filter(visible_to_staff_or_buyer(self.request.user))

    def perform_service(self, data):
        allocations = [(row["lot"], row["mass_kg"]) for row in data.pop("allocations")]
        return services.shipment_create(actor=self.request.user, allocations=allocations, **data)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def certificate(self, request, pk=None):
        """The shipment's certificate: its lots' figures weighted by the mass drawn from each, and the buyer's verdict."""
        shipment = self.get_object()
        document = certificates.certificate_document(certificates.shipment_certificate(shipment))
        document["acceptance"] = selectors.acceptance_for(plant_id=shipment.plant_id, buyer_id=shipment.buyer_id,
                                                          cu_mass_pct=decimal_or_none(document["cu_mass_pct"]),
                                                          cr_mass_pct=decimal_or_none(document["cr_mass_pct"]))
        return Response(document)

    @extend_schema(request=s.ShipmentPreviewSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """Before dispatch: the Cu/Cr and grade a shipment would carry, and whether the buyer's conditions hold.

        A plan that breaks them raises an alert (`shipment-alerts/`) that the buyer sees at once.
        """
        data = _validated(s.ShipmentPreviewSerializer, request, self)
        allocations = [(row["lot"], row["mass_kg"]) for row in data["allocations"]]
        preview = selectors.shipment_preview(plant=data["plant"], buyer=data["buyer"], allocations=allocations)
        alert = services.shipment_alert_raise(plant=data["plant"], buyer=data["buyer"], allocations=allocations, preview=preview,
                                              actor=request.user)
        preview["alert"] = None if alert is None else s.ShipmentAlertSerializer(alert).data
        return Response(preview)


class ShipmentAlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Planned shipments that break a buyer's condition, raised by `shipments/preview/`: plant staff and that buyer see them."""

    queryset = ShipmentAlert.objects.select_related("buyer").order_by("-raised_at", "-id")
    serializer_class = s.ShipmentAlertSerializer

    def get_queryset(self):
        return self.queryset.filter(visible_to_staff_or_buyer(self.request.user))


class AcceptanceConditionViewSet(ScopedViewSet):
    """Buyers' acceptance conditions: a buyer sets its own for a plant it buys from; plant staff read them."""

    queryset = AcceptanceCondition.objects.order_by("-created_at", "-id")
    serializer_class = s.AcceptanceConditionSerializer
    input_serializer_class = s.AcceptanceConditionInputSerializer
    write_roles = (*MANAGER_ROLES, Role.BUYER)

    def get_queryset(self):
        return self.queryset.filter(visible_to_staff_or_buyer(self.request.user))

    def perform_service(self, data):
        user, plant = self.request.user, data["plant"]
        if plants_for(user, MANAGER_ROLES).filter(pk=plant.pk).exists():
            if data.get("buyer") is None:
                raise ValidationError({"buyer": ["Name the buyer whose condition this is."]})
        else:
            grant = buyer_grants_for(user).filter(plant=plant).first()
            if grant is None:
                raise ValidationError({"plant": ["You do not buy from this plant."]})
            data["buyer"] = grant.buyer
        return services.acceptance_condition_create(actor=user, **data)


def _image_bytes(request, view) -> tuple[bytes, dict]:
    """Refuse an oversized body before reading it, then return the image bytes and the other fields."""
    limit = settings.MOIRA_MAX_UPLOAD_BYTES
    too_big = ValidationError({"image": [_("The photo is larger than %(mb)s MB; send a smaller one.") % {"mb": limit // (1024 * 1024)}]})
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + 64 * 1024:
        raise too_big
    data = _validated(view.input_serializer_class, request, view)
    upload = data.pop("image")
    if upload.size > limit:
        raise too_big
    return upload.read(), data


class ScanView(APIView):
    """Decode every QR code and barcode in a photo (when the phone's camera could not read the label)."""

    parser_classes = [MultiPartParser, FormParser]
    input_serializer_class = s.ImageInputSerializer

    def get_serializer_context(self):
        return {"request": self.request, "view": self}

    @extend_schema(request=s.ImageInputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        if not holds_role_somewhere(request.user, WRITE_ROLES):
            raise PermissionDenied("Only plant staff can scan.")
        data, _ = _image_bytes(request, self)
        found = imaging.decode_codes(photos.image_open(data))
        plants = plants_for(request.user, STAFF_ROLES)
        for code in found:
            code.update(selectors.label_lookup(plant_ids=plants, raw_code=code["data"]))
        return Response({"codes": found})


class NameplateView(APIView):
    """Read a nameplate photo: OCR text and suggested maker, model, serial and year; the photo is kept."""

    parser_classes = [MultiPartParser, FormParser]
    input_serializer_class = s.NameplateInputSerializer

    def get_serializer_context(self):
        return {"request": self.request, "view": self}

    @extend_schema(request=s.NameplateInputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        if not holds_role_somewhere(request.user, WRITE_ROLES):
            raise PermissionDenied("Only plant staff can read nameplates.")
        data, fields = _image_bytes(request, self)
        result = imaging.read_nameplate(photos.image_open(data), kind=fields["kind"])
        product = fields.get("product")
        plant = product.plant if product else fields.get("plant") or plants_for(request.user, WRITE_ROLES).first()
        photo = photos.photo_keep(plant=plant, data=data, purpose="nameplate", product=product, actor=request.user, ocr_text=result["text"])
        return Response({**result, "photo": photo.pk})
