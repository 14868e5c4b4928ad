"""Idempotency-Key for API writes: the offline queue of the workers' app replays actions without doubling them.

Keyed by who sent the request (the session's user, or a hash of the Authorization header), so one user's
key can never replay another's response.
A replay returns the first response with `Idempotent-Replay: true`; a replay while the first is still
running gets 409 and `Retry-After`; responses that say "try again" (409, 429, 5xx) are not kept.
The write and its kept response commit in one transaction, so an answer lost on the way (a dropped connection, a
database restart) is never done twice, and a request that failed half way left nothing behind to replay.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import IdempotentRequest
from moira.api import DATABASE_RETRY_AFTER_S, DATABASE_UNAVAILABLE

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
RETRYABLE = {409, 429}
ABANDONED_AFTER = dt.timedelta(minutes=5)
# The request that claims a key locks the claim's row at once and holds the lock until it ends; an older claim whose row
# nobody holds lost its request (process killed, database restarted) and may be run again (PostgreSQL only).
CLAIM_GRACE = dt.timedelta(seconds=2)
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a NOWAIT lock held by another transaction


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


def _still_running() -> JsonResponse:
    response = JsonResponse({"detail": "The first request with this Idempotency-Key is still running."}, status=409)
    response["Retry-After"] = "5"
    return response


def _database_unavailable() -> JsonResponse:
    response = JsonResponse({"detail": DATABASE_UNAVAILABLE}, status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
    return response


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 100 or request.method not in WRITE_METHODS or not request.path.startswith("/api/"):
            return self.get_response(request)
        try:
            identity = _identity(request)
            claim = self._claim(request, identity, key) if identity is not None else None
        except DatabaseError:
            return _database_unavailable()
        if claim is None:
            return self.get_response(request)
        record, created = claim
        if not created:
            replay = self._replay(record, request)
            if replay is not None:
                return replay
        return self._run(record, request, takeover=not created)

    @staticmethod
    def _claim(request, identity: str, key: str) -> tuple[IdempotentRequest, bool]:
        try:
            with transaction.atomic():
                return IdempotentRequest.objects.get_or_create(
                    identity=identity, key=key, defaults={"method": request.method, "path": request.path, **_device_fields(request)})
        except IntegrityError:
            return IdempotentRequest.objects.get(identity=identity, key=key), False

    def _run(self, record: IdempotentRequest, request, *, takeover: bool):
        # The claim was committed on its own so that a replay can see it; the request itself runs in a transaction
        # that holds the claim's row lock and commits the kept response together with the writes.
        claim = IdempotentRequest.objects.filter(pk=record.pk, state=IdempotentRequest.State.IN_FLIGHT, created_at=record.created_at)
        try:
            with transaction.atomic():
                if claim.select_for_update(nowait=takeover).first() is None:
                    return _still_running()  # another replay took it over (or finished it) meanwhile
                if takeover:
                    record.created_at = timezone.now()
                    claim.update(created_at=record.created_at)  # a late first request then finds the claim is no longer its own
                response = self.get_response(request)
                if response.status_code >= 500 or response.status_code in RETRYABLE:
                    transaction.set_rollback(True)  # "try again" leaves nothing half done behind
                elif getattr(response, "streaming", False):
                    record.delete()
                    return response
                else:
                    record.state = IdempotentRequest.State.DONE
                    record.response_status = response.status_code
                    record.response_body = response.content
                    record.response_content_type = response.get("Content-Type", "")
                    record.save(update_fields=["state", "response_status", "response_body", "response_content_type"])
                    return response
        except DatabaseError as exc:
            if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
                return _still_running()
            return _database_unavailable()  # the commit itself failed: a replay finds the key done or free again
        try:
            claim.delete()  # as it was before this attempt (rolled back), unless another replay has taken it over since
        except DatabaseError:
            pass  # the database is away: the claim stays, unlocked, and a replay takes it over once it is back
        return response

    @staticmethod
    def _replay(record: IdempotentRequest, request):
        if (record.method, record.path) != (request.method, request.path):
            return JsonResponse({"detail": "This Idempotency-Key was used for another request; send a new key."}, status=422)
        if record.state == IdempotentRequest.State.IN_FLIGHT:
            age = timezone.now() - record.created_at
            if age > ABANDONED_AFTER or (age > CLAIM_GRACE and connection.features.has_select_for_update_nowait):
                # Perhaps its request died; nothing was committed for it. `_run` runs it again unless its lock is held.
                return None
            return _still_running()
        response = HttpResponse(bytes(record.response_body or b""), status=record.response_status,
                                content_type=record.response_content_type or "application/json")
        response["Idempotent-Replay"] = "true"
        return response
