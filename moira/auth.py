from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.throttling import ScopedRateThrottle


class ObtainTokenView(ObtainAuthToken):
    """Exchange a username and password for an API token; throttled against password guessing."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"
