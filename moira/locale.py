"""The API's language: the one the client asked for (cookie or Accept-Language), else English.

Pages default to Japanese (LANGUAGE_CODE) for the people on the shop floor; a script or crawler that
states no preference gets English messages it can log and search for. The workers' app sends the
`django_language` cookie of its language switch, so its error reasons come back in the worker's language.
"""

from django.conf import settings
from django.utils import translation


class ApiLanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        stated = settings.LANGUAGE_COOKIE_NAME in request.COOKIES or "HTTP_ACCEPT_LANGUAGE" in request.META
        if request.path.startswith("/api/") and not stated:
            translation.activate("en")
            request.LANGUAGE_CODE = "en"
        return self.get_response(request)
