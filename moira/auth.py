from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import api_view
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle


class ObtainTokenView(ObtainAuthToken):
    """Exchange a username and password for an API token; throttled against password guessing."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"


@extend_schema(responses=OpenApiTypes.OBJECT)
@api_view(["GET"])
def server_time(request):
    """The server's clock, for a device to measure its offset (take the midpoint of the round trip)."""
    return Response({"server_time": timezone.now().isoformat()})
