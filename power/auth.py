from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from power.models import CrawlerToken
from power.services import token_digest

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class CrawlerPrincipal:
    """Who a crawler request acts as: the plant its token belongs to; never a user."""

    is_authenticated = True
    is_superuser = False
    is_anonymous = False

    def __init__(self, token: CrawlerToken):
        self.token = token
        self.plant = token.plant

    def get_username(self) -> str:
        return f"crawler:{self.plant.code}#{self.token.pk}"


class CrawlerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Device <key>`; a revoked or unknown key is refused."""

    keyword = "Device"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Give the crawler token after 'Device'.")
        token = CrawlerToken.objects.select_related("plant").filter(key_sha256=token_digest(header[1].decode(errors="replace"))).first()
        if token is None or token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("Unknown or revoked crawler token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            # A crawler posts many files per run; one write per minute says enough about when it was last seen.
            CrawlerToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return CrawlerPrincipal(token), token

    def authenticate_header(self, request):
        return self.keyword


class IsCrawler(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, CrawlerToken)


class CrawlerTokenScheme(OpenApiAuthenticationExtension):
    target_class = CrawlerTokenAuthentication
    name = "crawlerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`Device <crawler token>`"}
