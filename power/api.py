from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from moira.api import ScopedViewSet, holds_role_somewhere
from moira.jobs import enqueue_after_commit
from plants.selectors import MANAGER_ROLES, plants_for
from power import services
from power.auth import CrawlerTokenAuthentication, IsCrawler
from power.models import CrawlerToken, EmissionFactor, Logger, Upload
from power.serializers import (
    EmissionFactorInputSerializer,
    EmissionFactorSerializer,
    LoggerInputSerializer,
    LoggerSerializer,
    UploadInputSerializer,
    UploadSerializer,
)
from power.tasks import runs_allocate_task


class LoggerViewSet(ScopedViewSet):
    queryset = Logger.objects.order_by("plant", "code")
    serializer_class = LoggerSerializer
    input_serializer_class = LoggerInputSerializer
    write_roles = MANAGER_ROLES

    def perform_service(self, data):
        return services.logger_create(actor=self.request.user, **data)


class EmissionFactorViewSet(ScopedViewSet):
    queryset = EmissionFactor.objects.order_by("plant", "-valid_from")
    serializer_class = EmissionFactorSerializer
    input_serializer_class = EmissionFactorInputSerializer
    write_roles = MANAGER_ROLES

    def perform_service(self, data):
        return services.emission_factor_create(actor=self.request.user, **data)


class UploadViewSet(ScopedViewSet):
    """PW3360 files: posted by a plant's crawler (`Authorization: Device …`) or by a manager when it is down.

    201 when stored, 200 with `"status": "duplicate"` when the same file (by SHA-256) is stored already,
    400 naming the file when it cannot be read as a PW3360 file (the raw bytes are kept all the same).
    """

    queryset = Upload.objects.select_related("logger").order_by("-received_at", "-id")
    serializer_class = UploadSerializer
    plant_path = "logger__plant"
    write_roles = MANAGER_ROLES
    authentication_classes = [CrawlerTokenAuthentication, TokenAuthentication, SessionAuthentication]
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        if isinstance(self.request.auth, CrawlerToken):
            return self.queryset.filter(logger__plant=self.request.auth.plant)
        return super().get_queryset()

    @extend_schema(request=UploadInputSerializer, responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT})
    def create(self, request, *args, **kwargs):
        crawler = isinstance(request.auth, CrawlerToken)
        if not crawler and not holds_role_somewhere(request.user, MANAGER_ROLES):
            raise exceptions.PermissionDenied("Only a plant's crawler or a manager can upload logger files.")
        data = UploadInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        data = data.validated_data
        logger = self._logger(data, request.auth.plant if crawler else data.get("plant"))
        upload_file = data["file"]
        result = services.upload_ingest(
            logger=logger, data=upload_file.read(), filename=upload_file.name, remote_path=data["remote_path"],
            claimed_sha256=data["sha256"], sync=data.get("sync"), crawler_view=data.get("corrected"),
            source=Upload.Source.CRAWLER if crawler else Upload.Source.MANUAL, actor=None if crawler else request.user,
        )
        upload = result.upload
        if upload.status == Upload.Status.FAILED:
            return Response({"file": [upload.error], "id": upload.pk}, status=status.HTTP_400_BAD_REQUEST)
        if result.affected_run_ids:
            enqueue_after_commit(runs_allocate_task, result.affected_run_ids)
        body = {"id": upload.pk, "status": "accepted" if result.created else "duplicate", "sha256": upload.sha256,
                "readings": upload.reading_count, "rejected": upload.rejected}
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)

    def _logger(self, data, plant) -> Logger:
        candidates = Logger.objects.filter(code=data["logger"])
        if plant is not None:
            candidates = candidates.filter(plant=plant)
        else:
            candidates = candidates.filter(plant__in=plants_for(self.request.user, MANAGER_ROLES))
        found = list(candidates[:2])
        if not found:
            raise ValidationError({"logger": [f"No logger {data['logger']!r} in your plant."]})
        if len(found) > 1:
            raise ValidationError({"plant": ["Several of your plants have this logger code; name the plant."]})
        return found[0]


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
@authentication_classes([CrawlerTokenAuthentication])
@permission_classes([IsCrawler])
def ping(request):
    """Let a crawler check its token and compare its clock with the server's."""
    return Response({"plant": request.auth.plant.code, "server_time": timezone.now().isoformat()})
