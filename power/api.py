from __future__ import annotations

from moira.api import ScopedViewSet
from plants.selectors import MANAGER_ROLES
from power import services
from power.models import EmissionFactor, Logger
from power.serializers import EmissionFactorInputSerializer, EmissionFactorSerializer, LoggerInputSerializer, LoggerSerializer


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
