"""Shared REST plumbing: aware datetimes, plant scoping, and errors that name the field."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models
from django.http import Http404
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from plants.selectors import STAFF_ROLES, WRITE_ROLES, plants_for

NAIVE_DATETIME = "Give the time with its offset, e.g. 2024-05-01T09:30:00+09:00; a time without one is ambiguous."


class AwareDateTimeField(serializers.DateTimeField):
    """Accept only ISO 8601 datetimes that carry an offset; Django would otherwise guess a zone silently."""

    default_error_messages = {"naive": NAIVE_DATETIME}

    def to_internal_value(self, value):
        if isinstance(value, str):
            parsed = parse_datetime(value.strip())
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


class ModelSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: AwareDateTimeField,
    }


class PlantScopedField(serializers.PrimaryKeyRelatedField):
    """A reference by id, limited to objects of plants where the requesting user may write.

    Objects of other plants answer exactly like ids that do not exist, so nothing leaks.
    """

    def __init__(self, model: type[models.Model], plant_path: str = "plant", roles=WRITE_ROLES, **kwargs):
        self.model = model
        self.plant_path = plant_path
        self.roles = roles
        # The unfiltered queryset only tells the schema generator the model; requests use get_queryset().
        super().__init__(queryset=model.objects.all(), **kwargs)

    def get_queryset(self):
        user = self.context["request"].user
        return self.model.objects.filter(**{f"{self.plant_path}__in": plants_for(user, self.roles)})


def holds_role_somewhere(user, roles) -> bool:
    return user.is_superuser or plants_for(user, roles).exists()


class ScopedViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List and detail of the objects of the user's plants; `create` goes through a service.

    Subclasses set `queryset`, `serializer_class` (output), `input_serializer_class` and implement
    `perform_service(data)` returning the created object.
    """

    plant_path = "plant"
    read_roles = STAFF_ROLES
    write_roles = WRITE_ROLES
    input_serializer_class: type[serializers.Serializer] | None = None

    def get_queryset(self):
        return super().get_queryset().filter(**{f"{self.plant_path}__in": plants_for(self.request.user, self.read_roles)})

    def get_serializer_class(self):
        if self.action == "create" and self.input_serializer_class is not None:
            return self.input_serializer_class
        return super().get_serializer_class()

    def create(self, request, *args, **kwargs):
        if self.input_serializer_class is None:
            raise exceptions.MethodNotAllowed("POST")
        if not holds_role_somewhere(request.user, self.write_roles):
            raise exceptions.PermissionDenied("Your role cannot create this.")
        data = self.input_serializer_class(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        obj = self.perform_service(data.validated_data)
        return Response(self.serializer_class(obj, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED)

    def perform_service(self, data: dict):
        raise NotImplementedError


def exception_handler(exc, context):
    """Turn domain validation errors into 400s with a message per field, and races into 409s."""
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, IntegrityError):
        exc = exceptions.APIException("This conflicts with data recorded at the same moment; reload and retry.")
        exc.status_code = status.HTTP_409_CONFLICT
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)
