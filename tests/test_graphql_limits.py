"""What one GraphQL document may cost: each limit refuses with its own code, before anything
resolves, for anonymous callers as for members."""

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from strawberry.relay import to_base64

from config.graphql_limits import ApiErrorCode
from tests.conftest import graphql_client_for

pytestmark = pytest.mark.django_db


def post(query: str, client: Client | None = None):
    response = (client or Client()).post("/graphql/", data=json.dumps({"query": query}),
                                         content_type="application/json")
    return response.status_code, response.json()


def codes(body: dict) -> list[str]:
    return [error["extensions"].get("code") for error in body.get("errors", [])]


def model_chain(levels: int) -> str:
    """node → latestVersion → model → latestVersion → …: two levels of depth per step."""
    inner = "id"
    for _ in range(levels):
        inner = f"latestVersion {{ model {{ {inner} }} }}"
    missing = to_base64("RegisteredModel", 999_999)
    return f'{{ node(id: "{missing}") {{ ... on RegisteredModel {{ {inner} }} }} }}'


def test_a_deep_chain_is_refused_before_it_resolves_anything(settings):
    with CaptureQueriesContext(connection) as trivial:
        post("{ serverInfo { name } }")
    with CaptureQueriesContext(connection) as queries:
        status, body = post(model_chain(60))

    assert (status, body["data"], codes(body)) == (200, None, ["query_too_deep"])
    assert f"maximum operation depth of {settings.GRAPHQL_MAX_DEPTH}" in (
        body["errors"][0]["message"])
    assert len(queries) == len(trivial)  # the caller's tenant, nothing of the catalog


def test_a_chain_within_the_depth_limit_answers_null_for_a_missing_node():
    status, body = post(model_chain(5))  # depth 11

    assert (status, body) == (200, {"data": {"node": None}})


def test_too_many_aliases_are_refused(settings):
    limit = settings.GRAPHQL_MAX_ALIASES
    aliases = " ".join(f"a{i}: serverInfo {{ name }}" for i in range(limit + 1))
    within = " ".join(f"a{i}: serverInfo {{ name }}" for i in range(limit))

    status, body = post(f"{{ {aliases} }}")

    assert (status, codes(body)) == (200, ["too_many_aliases"])
    assert post(f"{{ {within} }}")[1]["data"]["a0"] == {"name": "model-registry"}


def test_too_many_tokens_are_refused_while_parsing(settings):
    status, body = post("{ serverInfo { " + "name " * settings.GRAPHQL_MAX_TOKENS + "} }")

    assert (status, codes(body)) == (200, ["too_many_tokens"])


def test_a_document_over_the_size_limit_is_refused_unread(settings):
    settings.GRAPHQL_MAX_DOCUMENT_BYTES = 1000
    padded = "{ serverInfo { name } }" + " " * 1000

    status, body = post(padded)

    assert (status, body) == (413, {"data": None, "errors": [{
        "message": "The GraphQL document is longer than allowed.",
        "extensions": {"code": "document_too_large"}}]})
    assert post("{ serverInfo { name } }")[0] == 200


def test_nested_pages_over_the_cost_limit_are_refused(settings, maintainer):
    # Each page multiplies what is under it, and a list counts as ASSUMED_LIST_LENGTH rows:
    # files = 1 + 10 × (path 1 + scanReports (1 + 10 × verdict 1)) = 121; versions = 1 + 100 ×
    # (edges 1 + node 1 + version 1 + files 121) = 12,401; models = 1 + 100 × (edges 1 +
    # node 1 + name 1 + versions 12,401) = 1,240,401.
    nested = ("{ models(first: 100) { edges { node { name versions(first: 100) { edges { node {"
              " version files { path scanReports { verdict } } } } } } } } }")
    small = nested.replace("100", "2")

    status, body = post(nested, graphql_client_for(maintainer).client)

    assert (status, codes(body)) == (200, ["query_too_costly"])
    assert body["errors"][0]["message"] == (
        f"The query could resolve 1240401 fields; at most {settings.GRAPHQL_MAX_QUERY_COST} "
        "are allowed.")
    assert post(small, graphql_client_for(maintainer).client)[1] == {
        "data": {"models": {"edges": []}}}


def test_fragments_count_where_they_are_spread(settings):
    settings.GRAPHQL_MAX_QUERY_COST = 10
    query = ("query { ...A ...A } fragment A on Query { serverInfo { name version environment "
             "storageBackend } }")  # 5 fields, spread twice

    assert post(query)[1]["data"]["serverInfo"]["name"] == "model-registry"
    settings.GRAPHQL_MAX_QUERY_COST = 9
    assert codes(post(query + " ")[1]) == ["query_too_costly"]  # validated anew, not cached


def test_anonymous_introspection_and_suggestions_follow_the_setting(settings, maintainer):
    settings.GRAPHQL_ANONYMOUS_INTROSPECTION = False
    member = graphql_client_for(maintainer).client

    anonymous_schema = post("{ __schema { queryType { name } } }")[1]
    member_schema = post("{ __schema { queryType { name } } }", member)[1]
    anonymous_typo = post("{ serverInfo { nam } }")[1]
    member_typo = post("{ serverInfo { nam } }", member)[1]

    assert set(codes(anonymous_schema)) == {"introspection_disabled"}
    assert member_schema == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    assert anonymous_typo["errors"][0]["message"] == (
        "Cannot query field 'nam' on type 'ServerInfo'.")
    assert member_typo["errors"][0]["message"] == (
        "Cannot query field 'nam' on type 'ServerInfo'. Did you mean 'name'?")


def test_the_limit_codes_are_in_the_catalogue():
    listed = {entry["code"] for entry in post("{ errorCodes { code } }")[1]["data"]["errorCodes"]}

    assert {code.value for code in ApiErrorCode} <= listed
