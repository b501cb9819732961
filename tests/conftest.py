import json
import os
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from accounts.models import Role, Tenant
from accounts.services import ensure_default_tenant
from tests.factories import MembershipFactory, UserFactory

pytest_plugins = ["tests.s3.fixtures"]

# The service-backed tests (marked `services`) run when this is set: `.ci/run` sets it in its
# second pass, against PostgreSQL, Redis and an S3 endpoint, where a missing service fails.
SERVICES = os.environ.get("REGISTRY_TEST_SERVICES") == "1"


def pytest_collection_modifyitems(config, items):
    if SERVICES:
        return
    deferred = pytest.mark.skip(
        reason="needs PostgreSQL/Redis/S3: runs with REGISTRY_TEST_SERVICES=1 (.ci/run's "
               "second pass)"
    )
    for item in items:
        if "services" in item.keywords:
            item.add_marker(deferred)


@pytest.fixture(autouse=True)
def _isolated_media(request, settings):
    """Each test stores its bytes apart: in a folder of its own, or, with
    REGISTRY_TEST_SERVICES=1, in a bucket of its own on the S3 endpoint (moto's server)."""
    if SERVICES:
        request.getfixturevalue("s3_storage")
    elif not settings.USE_S3:
        request.getfixturevalue("filesystem_storage")


@pytest.fixture(autouse=True)
def _response_cache_off(settings):
    """A test's writes never commit (its transaction is rolled back), so the response cache
    would not see them; tests/test_response_cache.py turns it on and runs the commit hooks."""
    settings.GRAPHQL_RESPONSE_CACHE = False


@pytest.fixture(autouse=True)
def _eager_tasks(request):
    """Tasks run in-process even when the suite has a broker (REDIS_URL, .ci/run's second
    pass); tests marked `real_worker` send them to a real worker instead."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = request.node.get_closest_marker("real_worker") is None
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def default_tenant(db) -> Tenant:
    return ensure_default_tenant()


@dataclass
class GraphQLResult:
    status_code: int
    body: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        assert "errors" not in self.body, self.body["errors"]
        return self.body["data"]


class GraphQLClient:
    """Posts GraphQL to /graphql/ as a logged-in user (session) or anonymously."""

    def __init__(self, client: Client, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.headers = headers or {}

    def __call__(self, query: str, variables: dict | None = None, **headers) -> GraphQLResult:
        response = self.client.post(
            "/graphql/", data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json", headers={**self.headers, **headers},
        )
        return GraphQLResult(response.status_code, response.json())

    def upload(self, query: str, variables: dict, files: dict[str, tuple[str, bytes]],
               **headers) -> GraphQLResult:
        """A graphql-multipart-request-spec request; `files` maps variable paths to files."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        file_map = {str(i): [path] for i, path in enumerate(files)}
        payload = {"operations": json.dumps({"query": query, "variables": variables}),
                   "map": json.dumps(file_map)}
        for i, (name, content) in enumerate(files.values()):
            payload[str(i)] = SimpleUploadedFile(name, content)
        response = self.client.post("/graphql/", data=payload,
                                    headers={**self.headers, **headers})
        return GraphQLResult(response.status_code, response.json())


def graphql_client_for(user=None) -> GraphQLClient:
    client = Client()
    if user is not None:
        client.force_login(user)
    return GraphQLClient(client)


@pytest.fixture
def member_factory(default_tenant):
    """Creates a user with a membership of `role` in `tenant` (default tenant)."""

    def create(role: str = Role.MAINTAINER, tenant: Tenant | None = None, **user_fields):
        user = UserFactory(**user_fields)
        MembershipFactory(user=user, tenant=tenant or default_tenant, role=role)
        return user

    return create


@pytest.fixture
def maintainer(member_factory):
    return member_factory(Role.MAINTAINER)


@pytest.fixture
def gql(maintainer) -> GraphQLClient:
    return graphql_client_for(maintainer)


@pytest.fixture
def gql_as():
    return graphql_client_for
