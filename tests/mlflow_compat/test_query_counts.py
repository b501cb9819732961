"""A page of registered models or versions costs the same number of queries whatever its
size (no query per row)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from accounts.selectors import actor_for
from accounts.services import tenant_group_create
from mlflow_compat import services
from registry.models import RegisteredModel
from tests.mlflow_compat.conftest import token_of

pytestmark = pytest.mark.django_db


def catalog(user, tenant, count: int, start: int = 0) -> None:
    actor = actor_for(user=user, tenant=tenant)
    for index in range(start, start + count):
        model = services.registered_model_create(actor=actor, name=f"model-{index}",
                                                 description="", tags={"team": "vision"})
        for number in (1, 2):
            version = services.model_version_create(
                actor=actor, model=model, source=f"s3://bucket/{index}/{number}",
                run_id=f"run-{index}", run_link="", description="", tags={"k": "v"})
            services.alias_set(actor=actor, model=model, alias=f"a{number}", version=version)


def queries(path: str, token: str) -> tuple[int, dict]:
    client = Client()
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.content
    return len(captured), answer.json()


@pytest.mark.parametrize(("path", "key"), [
    ("/api/2.0/mlflow/registered-models/search", "registered_models"),
    ("/api/2.0/mlflow/model-versions/search", "model_versions"),
])
def test_a_page_costs_the_same_whatever_its_size(member_factory, default_tenant, path, key):
    user = member_factory(Role.MAINTAINER)
    token = token_of(user, default_tenant)
    catalog(user, default_tenant, 2)
    queries(path, token)  # the first use of a token also records it as used
    small, small_page = queries(path, token)
    catalog(user, default_tenant, 10, start=2)
    large, large_page = queries(path, token)
    assert (len(small_page[key]), len(large_page[key])) == (
        (2, 12) if key == "registered_models" else (4, 24))
    assert small == large
    assert RegisteredModel.objects.count() == 12


def _model_summary(model: dict) -> tuple:
    return (model["name"], [version["version"] for version in model["latest_versions"]],
            model["aliases"], model["tags"])


def _version_summary(version: dict) -> tuple:
    return (version["name"], version["version"], version["aliases"], version["tags"],
            version["run_id"], version["status"])


MODEL_1 = ("model-1", ["2"], [{"alias": "a1", "version": "1"}, {"alias": "a2", "version": "2"}],
           [{"key": "team", "value": "vision"}])
VERSION_2 = ("model-1", "2", ["a2"], [{"key": "k", "value": "v"}], "run-1", "READY")


# The four calls of bench/mlflow_client.py, each pinned at its query count: the caller (1:
# the token with its user, tenant and membership, resolved once by the middleware and
# reused by the adapter; the user is in no group, so groups are not read), then the rows.
# A page reads its rows' tags and aliases, the latest versions and their tags (one query
# each: a latest version's aliases are among its model's); a version by name and number or
# alias is one query with its model's name, plus its tags and aliases. Files are read only
# for a version with a file that is
# neither clean nor released (none here).
@pytest.mark.parametrize(("path", "params", "expected", "summary", "wanted"), [
    ("/api/2.0/mlflow/registered-models/search",
     {"filter": "name LIKE 'model-%'", "max_results": "100"}, 6,
     lambda answer: [_model_summary(model) for model in answer["registered_models"]][1],
     MODEL_1),
    ("/api/2.0/mlflow/registered-models/get", {"name": "model-1"}, 6,
     lambda answer: _model_summary(answer["registered_model"]), MODEL_1),
    ("/api/2.0/mlflow/registered-models/alias", {"name": "model-1", "alias": "a2"}, 4,
     lambda answer: _version_summary(answer["model_version"]), VERSION_2),
    ("/api/2.0/mlflow/model-versions/search", {"filter": "name = 'model-1'"}, 4,
     lambda answer: [_version_summary(version) for version in answer["model_versions"]][0],
     VERSION_2),
])
def test_the_benchmarked_calls_cost_a_fixed_number_of_queries(
        member_factory, default_tenant, path, params, expected, summary, wanted):
    user = member_factory(Role.MAINTAINER)
    token = token_of(user, default_tenant)
    catalog(user, default_tenant, 3)
    client = Client()
    headers = {"Authorization": f"Bearer {token}"}
    client.get(path, params, headers=headers)  # the first use of a token also records it
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(path, params, headers=headers)
    assert answer.status_code == 200, answer.content
    assert len(captured) == expected, [query["sql"] for query in captured]
    assert summary(answer.json()) == wanted


def test_a_caller_in_a_group_costs_one_query_more(member_factory, default_tenant):
    user = member_factory(Role.MAINTAINER)
    token = token_of(user, default_tenant)
    catalog(user, default_tenant, 1)
    path = "/api/2.0/mlflow/registered-models/alias"
    params = {"name": "model-0", "alias": "a1"}
    Client().get(path, params, headers={"Authorization": f"Bearer {token}"})
    user.groups.add(tenant_group_create(tenant=default_tenant, name="vision").group)
    with CaptureQueriesContext(connection) as captured:
        answer = Client().get(path, params, headers={"Authorization": f"Bearer {token}"})
    assert (answer.status_code, len(captured)) == (200, 5)
    assert '"accounts_user_groups"."user_id"' in captured[1]["sql"]


def test_tags_are_listed_by_key(member_factory, default_tenant):
    user = member_factory(Role.MAINTAINER)
    token = token_of(user, default_tenant)
    actor = actor_for(user=user, tenant=default_tenant)
    model = services.registered_model_create(actor=actor, name="m", description="",
                                             tags={"zeta": "1", "alpha": "2"})
    services.model_version_create(actor=actor, model=model, source="s3://b", run_id="",
                                  run_link="", description="", tags={"z": "1", "a": "2"})
    _, answer = queries("/api/2.0/mlflow/registered-models/search", token)
    model_json = answer["registered_models"][0]
    assert (model_json["tags"], model_json["latest_versions"][0]["tags"]) == (
        [{"key": "alpha", "value": "2"}, {"key": "zeta", "value": "1"}],
        [{"key": "a", "value": "2"}, {"key": "z", "value": "1"}])
