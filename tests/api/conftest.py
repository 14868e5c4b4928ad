import pytest
from django.core.cache import cache


@pytest.fixture
def quick_logins_and_fresh_throttles(settings):
    """For tests that log in many times: hash fast, and leave no login attempts counted for later tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()
