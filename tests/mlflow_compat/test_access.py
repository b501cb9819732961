"""Who may do what through the MLflow API: roles, token scopes, tenants, workspaces, and
MLflow's error shape."""

import pytest
import requests
from mlflow.exceptions import RestException

from accounts.models import Role
from registry.models import ModelMetadata, RegisteredModel, Visibility
from tests.factories import MembershipFactory
from tests.mlflow_compat.conftest import token_of

pytestmark = pytest.mark.django_db(transaction=True)


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(RestException) as raised:
        call(*args, **kwargs)
    return raised.value.error_code


@pytest.fixture
def public_model(client, maintainer_token):
    client.create_registered_model("detector", tags={"team": "vision"})
    client.create_model_version("detector", "s3://bucket/v1")
    RegisteredModel.objects.filter(name="detector").update(visibility=Visibility.PUBLIC)
    return RegisteredModel.objects.get(name="detector")


def test_a_viewer_reads_public_models_and_writes_nothing(client, public_model, member_factory,
                                                        default_tenant, as_user):
    as_user(token_of(member_factory(Role.VIEWER, username="vic"), default_tenant))
    assert client.get_registered_model("detector").tags == {"team": "vision"}
    assert [m.name for m in client.search_registered_models()] == ["detector"]
    assert error_code(client.create_registered_model, "mine") == "PERMISSION_DENIED"
    # Visible but not theirs to change: answered as for a model that does not exist.
    assert error_code(client.set_registered_model_tag, "detector", "team", "x") == (
        "RESOURCE_DOES_NOT_EXIST")
    assert error_code(client.create_model_version, "detector", "s3://b/x") == (
        "RESOURCE_DOES_NOT_EXIST")
    assert error_code(client.delete_registered_model, "detector") == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(client.set_registered_model_alias, "detector", "prod", "1") == (
        "RESOURCE_DOES_NOT_EXIST")
    assert list(RegisteredModel.objects.values_list("name", flat=True)) == ["detector"]
    assert list(ModelMetadata.objects.values_list("key__name", "value")) == [("team", "vision")]
    assert public_model.versions.count() == 1
    assert not public_model.aliases.exists()


def test_a_private_model_is_invisible_to_other_members(client, maintainer_token, member_factory,
                                                      default_tenant, as_user):
    client.create_registered_model("secret")
    as_user(token_of(member_factory(Role.MAINTAINER, username="bob"), default_tenant))
    assert error_code(client.get_registered_model, "secret") == "RESOURCE_DOES_NOT_EXIST"
    assert list(client.search_registered_models()) == []


def test_a_read_only_token_writes_nothing(client, maintainer_token, default_tenant, as_user):
    from accounts.models import User

    as_user(token_of(User.objects.get(username="ada"), default_tenant, scopes=["read"]))
    assert error_code(client.create_registered_model, "mine") == "PERMISSION_DENIED"
    assert not RegisteredModel.objects.exists()


def test_another_tenant_sees_nothing(client, public_model, stranger_token, as_user, server):
    as_user(stranger_token)
    assert error_code(client.get_registered_model, "detector") == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(client.get_model_version, "detector", "1") == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(client.get_model_version_download_uri, "detector", "1") == (
        "RESOURCE_DOES_NOT_EXIST")
    assert error_code(client.set_registered_model_tag, "detector", "k", "v") == (
        "RESOURCE_DOES_NOT_EXIST")
    assert list(client.search_registered_models()) == []
    assert list(client.search_model_versions()) == []
    # Names are per tenant.
    assert client.create_registered_model("detector").tags == {}
    assert sorted(RegisteredModel.objects.values_list("tenant__slug", flat=True)) == [
        "acme", "default"]
    version = public_model.versions.get()
    listing = requests.get(f"{server}/api/2.0/mlflow-artifacts/artifacts",
                           params={"path": f"model-versions/{version.pk}"},
                           headers={"Authorization": f"Bearer {stranger_token}"})
    assert (listing.status_code, listing.json()) == (200, {})


def test_the_workspace_header_selects_a_tenant_of_the_caller(client, public_model, other_tenant,
                                                            monkeypatch):
    from accounts.models import User

    MembershipFactory(user=User.objects.get(username="ada"), tenant=other_tenant,
                      role=Role.MAINTAINER)
    monkeypatch.setenv("MLFLOW_WORKSPACE", "acme")
    assert error_code(client.get_registered_model, "detector") == "RESOURCE_DOES_NOT_EXIST"
    client.create_registered_model("in-acme")
    assert RegisteredModel.objects.get(name="in-acme").tenant == other_tenant
    monkeypatch.setenv("MLFLOW_WORKSPACE", "default")
    assert client.get_registered_model("detector").name == "detector"


def test_a_workspace_the_caller_is_not_in_does_not_exist(client, maintainer_token, server,
                                                        other_tenant):
    for workspace in ("acme", "no-such-tenant"):
        answer = requests.get(f"{server}/api/2.0/mlflow/registered-models/search",
                              headers={"Authorization": f"Bearer {maintainer_token}",
                                       "X-MLflow-Workspace": workspace})
        assert (answer.status_code, answer.json()) == (404, {
            "error_code": "RESOURCE_DOES_NOT_EXIST",
            "message": f"Workspace '{workspace}' not found."})


def test_credentials_are_required(client, server, as_user, default_tenant):
    as_user(None)
    assert error_code(client.search_registered_models) == "UNAUTHENTICATED"
    answer = requests.post(f"{server}/api/2.0/mlflow/registered-models/create",
                           json={"name": "x"}, headers={"Authorization": "Bearer rgk_nope"})
    assert (answer.status_code, answer.json()["error_code"]) == (401, "UNAUTHENTICATED")
    assert not RegisteredModel.objects.exists()


def test_mlflow_error_shape_and_unknown_endpoints(server, maintainer_token):
    auth = {"Authorization": f"Bearer {maintainer_token}"}
    answer = requests.get(f"{server}/api/2.0/mlflow/registered-models/get",
                          params={"name": "missing"}, headers=auth)
    assert (answer.status_code, answer.json()) == (404, {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "Registered Model with name=missing not found"})
    for method, path in [("POST", "/api/2.0/mlflow/experiments/delete"),
                         ("POST", "/api/2.0/mlflow/model-versions/transition-stage"),
                         ("GET", "/api/2.0/mlflow/registered-models/create"),
                         ("POST", "/api/2.0/mlflow-artifacts/artifacts/model-versions/1/x"),
                         ("GET", "/api/2.0/mlflow-artifacts/mpu/create"),
                         ("GET", "/ajax-api/2.0/mlflow/runs/search")]:
        answer = requests.request(method, f"{server}{path}", headers=auth)
        assert (answer.status_code, answer.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
    answer = requests.post(f"{server}/api/2.0/mlflow/registered-models/create", data="{",
                           headers={**auth, "Content-Type": "application/json"})
    assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    ajax = requests.get(f"{server}/ajax-api/2.0/mlflow/registered-models/search", headers=auth)
    assert (ajax.status_code, ajax.json()) == (200, {"registered_models": []})

