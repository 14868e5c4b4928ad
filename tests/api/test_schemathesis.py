"""Hostile input over the API: Schemathesis drives every operation of the OpenAPI schema as each role.

The schema is the one drf-spectacular serves at /api/v1/schema/; requests go through Django's WSGI app (no
server). Each role gets a seeded world of two plants (tests/api/world.py) so that ids in paths and bodies name
real objects, its own plant's and the other plant's, as well as generated ones. Both valid (positive) and invalid
(negative) input is sent. Every response must be no 5xx, with a documented status code, a documented content
type and a body that fits the documented schema. Examples are few and derandomized, so a run is bounded and
repeatable.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.world import seed_world

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_logins_and_fresh_throttles")]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 3
HYPOTHESIS = hypothesis_settings(
    max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=False,
    phases=[Phase.explicit, Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
)
ROLES = ["worker", "manager", "auditor", "buyer", "anonymous"]
# Body fields and path prefixes that name objects: generated integers rarely exist, so they are swapped for a
# seeded id of the role's plant or of the other plant (which must answer like an unknown id).
REFERENCES = {
    "plant": "plants", "organisation": "organisations", "buyer": "organisations", "line": "lines", "logger": "loggers",
    "intake": "intakes", "product": "products", "lot": "lots", "sorting_method": "sorting-methods", "analysis": "analyses",
    "part": "parts", "run": "runs", "dismantling": "dismantlings",
}


@pytest.fixture
def wsgi_app():
    """Django's WSGI app as a server runs it, except that the test's connection stays open between requests.

    Closing it would end the transaction that wraps the test (Django's own test client does the same).
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _resource(path: str) -> str:
    return path.removeprefix("/api/v1/").split("/{")[0]


def _strategy(operation, mode: GenerationMode, ids: dict[str, list[int]]):
    generated = operation.as_strategy(generation_mode=mode)
    known = ids.get(_resource(operation.path), [])
    if "{id}" in operation.path and known:
        generated = st.one_of(generated, *(operation.as_strategy(generation_mode=mode, path_parameters={"id": pk}) for pk in known))
    references = st.fixed_dictionaries({field: st.sampled_from(ids[prefix]) for field, prefix in REFERENCES.items() if ids.get(prefix)})
    # Positive cases always name seeded objects, so that they get past "does not exist" into the services; negative
    # cases keep their invalid reference half the time.
    swap = st.just(True) if mode is GenerationMode.POSITIVE else st.booleans()
    return st.tuples(generated, references, swap)


def _with_known_references(case, references: dict[str, int]):
    if isinstance(case.body, dict):
        for field, pk in references.items():
            if field in case.body:
                case.body[field] = pk
    return case


@pytest.mark.parametrize("role", ROLES)
def test_no_operation_answers_5xx_or_outside_its_schema(role, wsgi_app):
    world = seed_world()
    ids = world.all_ids()
    headers = {} if role == "anonymous" else {"Authorization": f"Token {Token.objects.create(user=world.users[role]).key}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", wsgi_app)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @HYPOTHESIS
            @given(drawn=_strategy(operation, mode, ids))
            def exercise(drawn):
                case, references, swap = drawn
                if swap:
                    _with_known_references(case, references)
                response = case.call(headers=headers)
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                exercise()
            except Unsatisfiable:
                # Only an operation with no parameters and no body (GET /time/) has nothing to make invalid.
                if mode is not GenerationMode.NEGATIVE:
                    raise
            except (Exception, FailureGroup) as exc:  # every operation is tried; all failures are reported together
                failures.append(f"{mode} {operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


@pytest.fixture
def manager_token_api():
    world = seed_world()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=world.users['manager']).key}")
    return client, world


@pytest.mark.parametrize("path", ["/api/v1/lots/1.5/", "/api/v1/no-such-thing/", "/api/v1/products/x.y/label/"])
def test_an_api_url_that_names_nothing_answers_json_404(manager_token_api, path):
    client, _ = manager_token_api
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json" and response.json() == {"detail": "Not found."}


def test_a_page_url_that_names_nothing_keeps_the_html_404(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["products/true/relabel/", "products/true/label/", "lots/abc/reserve/", "lots/abc/runs/",
                                  "runs/abc/stop/", "dismantlings/abc/photos/"])
def test_a_non_numeric_id_in_an_action_is_a_404_not_a_500(manager_token_api, path):
    client, _ = manager_token_api
    assert client.post(f"/api/v1/{path}", {}, format="json").status_code == 404


def test_an_impossible_datetime_is_a_400_that_names_the_field(manager_token_api):
    client, world = manager_token_api
    response = client.post("/api/v1/dismantlings/", {"product": world.a.objects["unlabelled_product"].pk, "pattern": "pattern_1",
                                                     "performed_at": "2024-01-01T12:99:00Z"}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"performed_at"}


def test_the_schema_documents_what_creates_answer_and_the_plants_clock_format(manager_token_api):
    client, world = manager_token_api
    schema = client.get("/api/v1/schema/?format=json").json()
    paths = schema["paths"]
    assert paths["/api/v1/products/"]["post"]["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Product"}
    labels = paths["/api/v1/labels/"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert labels == {"type": "array", "items": {"$ref": "#/components/schemas/Label"}}
    for action in ("/api/v1/products/{id}/relabel/", "/api/v1/lots/{id}/runs/", "/api/v1/calibrations/from-blank-run/"):
        assert "201" in paths[action]["post"]["responses"], action
    assert client.get(f"/api/v1/plants/{world.a.plant.pk}/").json()["closing_time"] == "17:30"
    assert "format" not in schema["components"]["schemas"]["Plant"]["properties"]["closing_time"]
