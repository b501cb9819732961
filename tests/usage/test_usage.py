"""Usage: pulls and pushes per file, day and caller; `usage(from, to)`; the admins' report."""

import io
import json
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.test import Client
from strawberry.relay import to_base64

from accounts import services as account_services
from accounts.models import Role
from accounts.selectors import actor_for
from registry import services
from registry.models import Visibility
from registry.urls_public import archive_url, file_download_url
from tests.conftest import graphql_client_for
from tests.factories import (
    ModelVersionFactory,
    RegisteredModelFactory,
    TenantFactory,
    artifact_file,
)
from usage.models import DailyUsage

CONTENT = b"weights" * 100
USAGE = ("usage(from: $from, to: $to) { from to pulls pushes lastPulledAt "
         "days { day pulls pushes pullers } }")
NODE = ("query($id: ID!, $from: Date, $to: Date) { node(id: $id) { "
        f"... on ArtifactFile {{ {USAGE} }} ... on ModelVersion {{ {USAGE} }} "
        f"... on RegisteredModel {{ {USAGE} }} }} }}")


@pytest.fixture
def admin(member_factory):
    return member_factory(Role.ADMIN, username="ada")


@pytest.fixture
def token(admin, default_tenant):
    api_token, secret = account_services.api_token_create(
        actor=actor_for(user=admin, tenant=default_tenant), name="ci", scopes=["read"])
    return api_token, {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def version(admin, default_tenant):
    return ModelVersionFactory(model=RegisteredModelFactory(
        tenant=default_tenant, owner=admin, name="detector", visibility=Visibility.PRIVATE),
        version="1.0.0")


@pytest.fixture
def stored(version):
    return artifact_file(version, path="model.onnx", content=CONTENT)


def pull(client: Client, url: str, times: int, **headers) -> None:
    for _ in range(times):
        assert client.get(url, headers=headers).status_code in (200, 302)


def usage(caller, obj, type_name: str, **variables) -> dict:
    result = caller(NODE, {"id": to_base64(type_name, obj.pk), **variables})
    assert "errors" not in result.body, result.body
    return result.body["data"]["node"]["usage"]


def test_pulls_are_counted_per_caller_on_both_backends(storage_backend, admin, token, stored):
    api_token, bearer = token
    session = graphql_client_for(admin).client
    pull(session, file_download_url(stored), 2)
    pull(Client(), file_download_url(stored), 3, **bearer)
    pull(Client(), archive_url(stored.model_version), 1, **bearer)

    assert sorted(DailyUsage.objects.values_list("caller", "user_id", "token_id", "pulls",
                                                 "pushes")) == [
        (f"token:{api_token.pk}", admin.pk, api_token.pk, 4, 0),
        (f"user:{admin.pk}", admin.pk, None, 2, 0),
    ]


def test_usage_per_day_on_file_version_and_model(admin, token, stored):
    _, bearer = token
    session = graphql_client_for(admin).client
    with time_machine.travel(datetime(2026, 11, 2, 9, 0, tzinfo=UTC), tick=False):
        pull(session, file_download_url(stored), 2)
    with time_machine.travel(datetime(2026, 11, 4, 17, 30, tzinfo=UTC), tick=False):
        pull(session, file_download_url(stored), 1)
        pull(Client(), file_download_url(stored), 1, **bearer)
    with time_machine.travel(datetime(2026, 11, 5, 8, 0, tzinfo=UTC), tick=False):
        pull(session, file_download_url(stored), 5)  # after the range asked for

    expected = {"from": "2026-11-01", "to": "2026-11-04", "pulls": 4, "pushes": 0,
                "lastPulledAt": "2026-11-05T08:00:00+00:00",
                "days": [{"day": "2026-11-02", "pulls": 2, "pushes": 0, "pullers": 1},
                         {"day": "2026-11-04", "pulls": 2, "pushes": 0, "pullers": 2}]}
    caller = graphql_client_for(admin)
    window = {"from": "2026-11-01", "to": "2026-11-04"}
    assert usage(caller, stored, "ArtifactFile", **window) == expected
    assert usage(caller, stored.model_version, "ModelVersion", **window) == expected
    assert usage(caller, stored.model_version.model, "RegisteredModel", **window) == expected


def test_default_range_and_bad_range(admin, stored):
    caller = graphql_client_for(admin)
    with time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False):
        assert usage(caller, stored, "ArtifactFile") == {
            "from": "2026-11-01", "to": "2026-11-30", "pulls": 0, "pushes": 0,
            "lastPulledAt": None, "days": []}
    result = caller(NODE, {"id": to_base64("ArtifactFile", stored.pk),
                           "from": "2026-11-05", "to": "2026-11-04"})
    assert [error["extensions"]["code"] for error in result.body["errors"]] == ["invalid_choice"]


def test_pushes_are_counted(admin, default_tenant, version):
    actor = actor_for(user=admin, tenant=default_tenant)
    with time_machine.travel(datetime(2026, 11, 3, 12, 0, tzinfo=UTC), tick=False):
        for path in ("a.bin", "b.bin"):
            services.file_add(actor=actor, version=version, path=path,
                              stream=io.BytesIO(CONTENT), declared_size=len(CONTENT))

    assert sorted(DailyUsage.objects.values_list("file__path", "day", "caller", "pushes",
                                                 "pulls")) == [
        ("a.bin", date(2026, 11, 3), f"user:{admin.pk}", 1, 0),
        ("b.bin", date(2026, 11, 3), f"user:{admin.pk}", 1, 0)]
    assert usage(graphql_client_for(admin), version, "ModelVersion",
                 **{"from": "2026-11-03", "to": "2026-11-03"})["days"] == [
        {"day": "2026-11-03", "pulls": 0, "pushes": 2, "pullers": 0}]


def test_usage_of_an_invisible_object_is_not_shown(member_factory, stored):
    outsider = graphql_client_for(member_factory(Role.VIEWER))
    result = outsider(NODE, {"id": to_base64("ArtifactFile", stored.pk)})
    assert result.body["data"]["node"] is None


@pytest.fixture
def report_world(admin, default_tenant):
    session = graphql_client_for(admin).client
    files = {}
    for name in ("alpha", "bravo", "charlie"):
        version = ModelVersionFactory(model=RegisteredModelFactory(
            tenant=default_tenant, owner=admin, name=name), version="1.0.0")
        files[name] = artifact_file(version, path="model.onnx", content=CONTENT)
    with time_machine.travel(datetime(2026, 10, 1, 10, 0, tzinfo=UTC), tick=False):
        pull(session, file_download_url(files["charlie"]), 4)  # long ago only
    with time_machine.travel(datetime(2026, 11, 29, 10, 0, tzinfo=UTC), tick=False):
        pull(session, file_download_url(files["alpha"]), 1)
        pull(session, file_download_url(files["bravo"]), 3)
    return session


CSV = """kind,name,version,path,pulls,last_pulled_at
model,bravo,1.0.0,model.onnx,3,2026-11-29T10:00:00+00:00
model,alpha,1.0.0,model.onnx,1,2026-11-29T10:00:00+00:00
model,charlie,1.0.0,model.onnx,0,2026-10-01T10:00:00+00:00
"""


@time_machine.travel(datetime(2026, 11, 30, 12, 0, tzinfo=UTC), tick=False)
def test_report_most_pulled_first_as_csv_and_json(report_world):
    response = report_world.get("/usage/report.csv?days=30")
    assert (response.status_code, response["Content-Type"], response.content.decode()) == (
        200, "text/csv; charset=utf-8", CSV)
    assert response["Content-Disposition"] == 'attachment; filename="usage-default-30d.csv"'

    response = report_world.get("/usage/report.json?days=90")
    assert json.loads(response.content) == {"tenant": "default", "days": 90, "files": [
        {"kind": "model", "name": "charlie", "version": "1.0.0", "path": "model.onnx",
         "pulls": 4, "last_pulled_at": "2026-10-01T10:00:00+00:00"},
        {"kind": "model", "name": "bravo", "version": "1.0.0", "path": "model.onnx",
         "pulls": 3, "last_pulled_at": "2026-11-29T10:00:00+00:00"},
        {"kind": "model", "name": "alpha", "version": "1.0.0", "path": "model.onnx",
         "pulls": 1, "last_pulled_at": "2026-11-29T10:00:00+00:00"},
    ]}


@pytest.mark.parametrize("who", ["anonymous", "maintainer", "viewer", "other_tenant_admin"])
def test_report_is_for_the_tenants_admins_only(report_world, member_factory, who):
    if who == "anonymous":
        client = Client()
    elif who == "other_tenant_admin":
        client = graphql_client_for(member_factory(Role.ADMIN, tenant=TenantFactory())).client
    else:
        client = graphql_client_for(member_factory(Role(who))).client
    response = client.get("/usage/report.json")
    if who == "other_tenant_admin":  # their own tenant's report: none of these files
        assert json.loads(response.content)["files"] == []
    else:
        assert response.status_code == 404


def test_report_refuses_bad_input(report_world):
    assert report_world.get("/usage/report.xml").status_code == 404
    response = report_world.get("/usage/report.csv?days=0")
    assert (response.status_code, json.loads(response.content)["code"]) == (400, "invalid_choice")
    response = Client().get("/usage/report.csv", headers={"Authorization": "Bearer rgk_nope"})
    assert response.status_code == 401
