from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.response import Response

from moira.api import ScopedViewSet, holds_role_somewhere
from plants import services
from plants.models import Line, Organisation, Plant, Role
from plants.selectors import MANAGER_ROLES, STAFF_ROLES, plants_for
from plants.serializers import (
    LineInputSerializer,
    LineSerializer,
    OrganisationInputSerializer,
    OrganisationSerializer,
    PlantInputSerializer,
    PlantSerializer,
)

ALL_ROLES = (*STAFF_ROLES, Role.BUYER)


class OrganisationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Operators and buyers. Plant staff see all (to choose a buyer); a buyer sees its own organisation."""

    serializer_class = OrganisationSerializer
    queryset = Organisation.objects.order_by("code")

    def get_queryset(self):
        user = self.request.user
        if user.is_superuser or plants_for(user, STAFF_ROLES).exists():
            return self.queryset
        return self.queryset.filter(buyer_memberships__user=user).distinct()

    def get_serializer_class(self):
        return OrganisationInputSerializer if self.action == "create" else OrganisationSerializer

    @extend_schema(request=OrganisationInputSerializer, responses={201: OrganisationSerializer})
    def create(self, request):
        if not holds_role_somewhere(request.user, MANAGER_ROLES):
            raise exceptions.PermissionDenied("Only a manager can add an organisation.")
        data = OrganisationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organisation = services.organisation_create(actor=request.user, **data.validated_data)
        return Response(OrganisationSerializer(organisation).data, status=status.HTTP_201_CREATED)


class PlantViewSet(ScopedViewSet):
    queryset = Plant.objects.order_by("code")
    serializer_class = PlantSerializer
    input_serializer_class = PlantInputSerializer
    plant_path = "pk"
    read_roles = ALL_ROLES
    write_roles = MANAGER_ROLES

    def perform_service(self, data):
        return services.plant_create(actor=self.request.user, **data)


class LineViewSet(ScopedViewSet):
    queryset = Line.objects.order_by("plant", "code")
    serializer_class = LineSerializer
    input_serializer_class = LineInputSerializer
    write_roles = MANAGER_ROLES

    def perform_service(self, data):
        return services.line_create(actor=self.request.user, **data)
