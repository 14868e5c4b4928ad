"""Idempotency-Key for API writes: the offline queue of the workers' app replays actions without doubling them.

Keyed by who sent the request (the session's user, or a hash of the Authorization header), so one user's
key can never replay another's response.
A replay returns the first response with `Idempotent-Replay: true`; a replay while the first is still
running gets 409 and `Retry-After`; responses that say "try again" (409, 429, 5xx) are not kept.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import IdempotentRequest

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
RETRYABLE = {409, 429}
ABANDONED_AFTER = dt.timedelta(minutes=5)


def _identity(request) -> str | None:
    # A browser session is keyed by its user, not its cookie: logging in again rotates the session key, and a
    # replay after that must still find the first answer. API tokens are checked later, by DRF, so their
    # requests are keyed by the credential itself.
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and not request.headers.get("Authorization"):
        credential = f"user:{user.pk}"
    else:
        credential = request.headers.get("Authorization") or request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    return hashlib.sha256(credential.encode()).hexdigest() if credential else None


def _device_fields(request) -> dict:
    moment = parse_datetime(request.headers.get("X-Device-Time", "")) if request.headers.get("X-Device-Time") else None
    offset = request.headers.get("X-Device-Clock-Offset-Ms", "")
    return {
        "device_time": moment if moment is not None and moment.tzinfo is not None else None,
        "device_clock_offset_ms": int(offset) if offset.lstrip("-").isdigit() and len(offset) < 16 else None,
    }


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or request.method not in WRITE_METHODS or not request.path.startswith("/api/"):
            return self.get_response(request)
        identity = _identity(request)
        if identity is None or len(key) > 100:
            return self.get_response(request)
        try:
            with transaction.atomic():
                record, created = IdempotentRequest.objects.get_or_create(
                    identity=identity, key=key, defaults={"method": request.method, "path": request.path, **_device_fields(request)})
        except IntegrityError:
            record, created = IdempotentRequest.objects.get(identity=identity, key=key), False
        if not created:
            replay = self._replay(record, request)
            if replay is not None:
                return replay
            return self(request)
        response = self.get_response(request)
        if response.status_code in RETRYABLE or response.status_code >= 500 or getattr(response, "streaming", False):
            record.delete()
            return response
        record.state = IdempotentRequest.State.DONE
        record.response_status = response.status_code
        record.response_body = response.content
        record.response_content_type = response.get("Content-Type", "")
        record.save(update_fields=["state", "response_status", "response_body", "response_content_type"])
        return response

    @staticmethod
    def _replay(record: IdempotentRequest, request):
        if (record.method, record.path) != (request.method, request.path):
            return JsonResponse({"detail": "This Idempotency-Key was used for another request; send a new key."}, status=422)
        if record.state == IdempotentRequest.State.IN_FLIGHT and timezone.now() - record.created_at > ABANDONED_AFTER:
            # The process that took it died mid-request; nothing was committed for it, so run it again.
            record.delete()
            return None
        if record.state == IdempotentRequest.State.IN_FLIGHT:
            response = JsonResponse({"detail": "The first request with this Idempotency-Key is still running."}, status=409)
            response["Retry-After"] = "5"
            return response
        response = HttpResponse(bytes(record.response_body or b""), status=record.response_status,
                                content_type=record.response_content_type or "application/json")
        response["Idempotent-Replay"] = "true"
        return response
