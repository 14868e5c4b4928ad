"""Shared fixtures: two plants of one operator, a buyer, and a user for every role."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from moira.celery import app as celery_app
from plants.models import Line, Membership, Organisation, Plant, Role


@pytest.fixture(autouse=True)
def _eager_celery_unless_integration(request):
    """Run tasks in-process except in integration tests, which talk to a real worker."""
    eager = request.node.get_closest_marker("integration") is None
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = eager
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def operator(db):
    return Organisation.objects.create(code="kanto-recycling", name="Kanto Recycling")


@pytest.fixture
def plant(operator):
    return Plant.objects.create(organisation=operator, code="a-plant", name="A Plant", timezone="Asia/Tokyo",
                                closing_time=dt.time(17, 30))


@pytest.fixture
def other_plant(operator):
    return Plant.objects.create(organisation=operator, code="b-plant", name="B Plant", timezone="Asia/Tokyo",
                                closing_time=dt.time(18, 0))


@pytest.fixture
def buyer_org(db):
    return Organisation.objects.create(code="steel-a", name="Steel Mill A")


@pytest.fixture
def other_buyer_org(db):
    return Organisation.objects.create(code="steel-b", name="Steel Mill B")


@pytest.fixture
def line(plant):
    return Line.objects.create(plant=plant, code="shredder", name="Shredder line")


@pytest.fixture
def make_user(db):
    def make(username: str, *, plant=None, role=None, buyer=None, superuser=False):
        user = get_user_model().objects.create_user(username=username, password="pw-" + username, is_superuser=superuser)
        if plant is not None:
            Membership.objects.create(user=user, plant=plant, role=role, buyer=buyer)
        return user

    return make


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def manager(make_user, plant):
    return make_user("manager", plant=plant, role=Role.MANAGER)


@pytest.fixture
def worker(make_user, plant):
    return make_user("worker", plant=plant, role=Role.WORKER)


@pytest.fixture
def manager_api(manager):
    return client_for(manager)


@pytest.fixture
def worker_api(worker):
    return client_for(worker)


@pytest.fixture
def other_manager_api(make_user, other_plant):
    return client_for(make_user("other-manager", plant=other_plant, role=Role.MANAGER))
