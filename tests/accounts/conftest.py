import json
import uuid

import pytest
from django.test import Client

from tests.conftest import GraphQLClient, GraphQLResult

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's

LOGIN = """
mutation($username: String!, $password: String!, $tenant: String) {
  login(username: $username, password: $password, tenant: $tenant) {
    ... on TokenPair { accessToken refreshToken expiresAt refreshExpiresAt tenantSlug }
    ... on OperationInfo { messages { code field message } }
  }
}"""
REFRESH = """
mutation($token: String!) {
  refreshToken(refreshToken: $token) {
    ... on TokenPair { accessToken refreshToken expiresAt refreshExpiresAt tenantSlug }
    ... on OperationInfo { messages { code field message } }
  }
}"""
VIEWER = "{ viewer { user { username } tenant { slug } role } }"
INVALID_TOKEN_BODY = {"data": None, "errors": [{
    "message": "The bearer or refresh token is malformed, expired, revoked, or no longer valid "
               "for its user (deactivated, removed from the tenant, password changed).",
    "extensions": {"code": "invalid_token"},
}]}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Logins hash passwords on every call; the production hasher is slow by design.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_cache(request, settings):
    """Failed-login counts live in the cache: each test gets an empty one of its own (tests
    marked `services` keep the configured one, Redis in CI)."""
    if request.node.get_closest_marker("services") is None:
        settings.CACHES = {"default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"accounts-tests-{uuid.uuid4()}",
        }}


def anonymous() -> GraphQLClient:
    return GraphQLClient(Client())


def bearer(token: str) -> GraphQLClient:
    return GraphQLClient(Client(), headers={"Authorization": f"Bearer {token}"})


def graphql_from(address: str, query: str, variables: dict) -> GraphQLResult:
    """An anonymous GraphQL request from another client address."""
    response = Client(REMOTE_ADDR=address).post(
        "/graphql/", data=json.dumps({"query": query, "variables": variables}),
        content_type="application/json",
    )
    return GraphQLResult(response.status_code, response.json())


def login(username: str, password: str = PASSWORD, tenant: str | None = None) -> dict:
    result = anonymous()(LOGIN, {"username": username, "password": password, "tenant": tenant})
    return result.data["login"]


def refresh(token: str) -> dict:
    return anonymous()(REFRESH, {"token": token}).data["refreshToken"]


def served_status() -> int:
    """What an allowed file download answers: S3 redirects to a presigned URL."""
    from registry.storage.backends import backend
    from registry.storage.s3 import S3Backend

    return 302 if isinstance(backend(), S3Backend) else 200
