"""Shared REST plumbing: aware datetimes, plant scoping, and errors that name the field."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, models
from django.http import Http404, JsonResponse
from django.utils.dateparse import parse_datetime
from django.views import defaults
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from plants.selectors import STAFF_ROLES, WRITE_ROLES, plants_for

DATABASE_UNAVAILABLE = "The database is not answering (restarting?); retry in a few seconds."
DATABASE_RETRY_AFTER_S = 5
NAIVE_DATETIME = "Give the time with its offset, e.g. 2024-05-01T09:30:00+09:00; a time without one is ambiguous."


class AwareDateTimeField(serializers.DateTimeField):
    """Accept only ISO 8601 datetimes that carry an offset; Django would otherwise guess a zone silently."""

    default_error_messages = {"naive": NAIVE_DATETIME}

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:  # well formed but impossible (minute 99): the parent refuses it as invalid
                parsed = None
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
    """Turn domain validation errors into 400s with a message per field, races into 409s, a lost database into 503s."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        # A restart or failover of PostgreSQL: the client may simply retry (with the same Idempotency-Key).
        return Response({"detail": DATABASE_UNAVAILABLE}, status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)})
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, IntegrityError):
        exc = exceptions.APIException("This conflicts with data recorded at the same moment; reload and retry.")
        exc.status_code = status.HTTP_409_CONFLICT
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)


class ErrorSerializer(serializers.Serializer):
    """Why a request was refused, in one sentence."""

    detail = serializers.CharField()


# A 400 names each field it refuses, nested as the input is (e.g. `allocations: [{"lot": [...]}]`), or says
# `detail` when the body cannot be parsed at all; the shape follows the input, so it stays a free-form object.
VALIDATION_ERROR_SCHEMA = {"type": "object", "additionalProperties": {},
                           "description": "A list of messages per refused field (`non_field_errors` for the whole input), or `detail`."}
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema plus the error answers each operation can give, so clients can rely on them."""

    def get_response_serializers(self):
        # ScopedViewSet.create reads the input serializer but answers with the output one.
        if getattr(self.view, "action", None) == "create" and getattr(self.view, "input_serializer_class", None) is not None:
            return self.view.serializer_class
        return super().get_response_serializers()

    def _get_paginator(self):
        # DRF pages only the `list` action; any other answer with several objects is a plain array.
        if getattr(self.view, "action", "list") != "list":
            return None
        return super()._get_paginator()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, (body, description) in self._error_responses().items():
            responses.setdefault(code, {**self._get_response_for_code(body, code, direction=direction), "description": description})
        return responses

    def _error_responses(self) -> dict[str, tuple[object, str]]:
        errors = {}
        if self.method in WRITE_METHODS:
            errors["400"] = (VALIDATION_ERROR_SCHEMA, "The input was refused.")
        if self.view.get_authenticators():
            errors["401"] = (ErrorSerializer, "No credentials, or unknown or revoked ones.")
            errors["403"] = (ErrorSerializer, "The credentials' role or plants do not allow this (or a session write lacks its CSRF token).")
        if "{" in self.path:
            errors["404"] = (ErrorSerializer, "No such object among those the credentials may see.")
        if self.method in WRITE_METHODS:
            errors["409"] = (ErrorSerializer, "A conflicting write happened at the same moment; reload and retry.")
            errors["415"] = (ErrorSerializer, "The body's content type is not one this operation reads.")
        if self.view.get_throttles():
            errors["429"] = (ErrorSerializer, "Too many attempts; wait before trying again.")
        errors["503"] = (ErrorSerializer, "The database is not answering; retry after `Retry-After` seconds.")
        return errors


def not_found(request, exception):
    """A URL under /api/ that names nothing answers in JSON like every other API error; pages keep Django's page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error; it has been logged."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return defaults.server_error(request)
