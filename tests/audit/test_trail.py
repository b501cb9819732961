"""The audit trail: one entry per change with its exact diff, per action category."""

import pytest
import structlog
from django.contrib.auth import authenticate

from accounts import services as account_services
from accounts.models import Role
from accounts.selectors import actor_for
from audit.models import AuditEntry
from deployments import services as deployment_services
from registry import services
from registry.models import ModelVersion, RegisteredModel, ScanStatus, Visibility
from registry.services import ListChanges
from scanning import services as scanning_services
from tests.factories import ModelVersionFactory, RegisteredModelFactory, artifact_file

pytestmark = pytest.mark.django_db


def trail() -> list[tuple]:
    return [(e.action, e.actor_name, e.object_kind, e.object_name, e.changes)
            for e in AuditEntry.objects.order_by("pk")]


@pytest.fixture
def owner(member_factory):
    return member_factory(Role.MAINTAINER, username="olga")


@pytest.fixture
def actor(owner, default_tenant):
    return actor_for(user=owner, tenant=default_tenant)


def test_creating_updating_and_deleting_a_version_are_recorded_with_their_diffs(actor, owner):
    model = RegisteredModelFactory(tenant=actor.tenant, owner=owner, name="detector")
    structlog.contextvars.bind_contextvars(request_id="req-1", ip="10.0.0.7")
    try:
        version = services.version_create(version_class=ModelVersion, actor=actor,
                                          parent_id=model.pk, version="1.0.0",
                                          description="first")
        services.version_update(actor=actor, version=version, description="better")
        services.version_state_set(actor=actor, version=version, state="archived")
        services.version_delete(actor=actor, version=version)
        version.refresh_from_db()
    finally:
        structlog.contextvars.unbind_contextvars("request_id", "ip")

    assert trail() == [
        ("create", "olga", "ModelVersion", "1.0.0",
         {"description": [None, "first"], "metrics": [None, {}], "source_uri": [None, ""],
          "version": [None, "1.0.0"]}),
        ("update", "olga", "ModelVersion", "1.0.0",
         {"description": ["first", "better"]}),
        ("state", "olga", "ModelVersion", "1.0.0", {"state": ["live", "archived"]}),
        ("trash", "olga", "ModelVersion", "1.0.0",
         {"purge_after": [None, version.purge_after.isoformat()], "reason": [None, "Deleted"]}),
    ]
    entry = AuditEntry.objects.order_by("pk").first()
    assert (entry.tenant, entry.actor_kind, entry.actor_user, entry.request_id,
            entry.client_address, entry.catalog_kind, entry.catalog_id) == (
        actor.tenant, "user", owner, "req-1", "10.0.0.7", "RegisteredModel", model.pk)


def test_a_visibility_change_is_an_entry_of_its_own(actor):
    model = services.catalog_entry_create(entry_class=RegisteredModel, actor=actor,
                                          name="detector", visibility=Visibility.PUBLIC)
    services.catalog_entry_update(entry_class=RegisteredModel, actor=actor, entry_id=model.pk,
                                  visibility=Visibility.PRIVATE, description="yolo")

    assert trail() == [
        ("create", "olga", "RegisteredModel", "detector",
         {"name": [None, "detector"], "visibility": [None, "public"]}),
        ("visibility", "olga", "RegisteredModel", "detector",
         {"visibility": ["public", "private"]}),
        ("update", "olga", "RegisteredModel", "detector", {"description": ["", "yolo"]}),
    ]


def test_tag_and_metadata_changes_are_in_the_diff(actor):
    model = services.catalog_entry_create(entry_class=RegisteredModel, actor=actor,
                                          name="detector")
    version = services.version_create(version_class=ModelVersion, actor=actor,
                                      parent_id=model.pk, version="1.0.0")
    services.catalog_entry_update(entry_class=RegisteredModel, actor=actor, entry_id=model.pk,
                                  tags=ListChanges(add=["vision", "edge"]),
                                  metadata={"team": "cv"})
    services.catalog_entry_update(entry_class=RegisteredModel, actor=actor, entry_id=model.pk,
                                  tags=ListChanges(remove=["edge"]), metadata={"team": None})
    services.version_update(actor=actor, version=version, metadata={"epochs": "10"})

    assert [(action, changes) for action, _, kind, _, changes in trail()
            if action == "update"] == [
        ("update", {"metadata": [{}, {"team": "cv"}], "tags": [[], ["edge", "vision"]]}),
        ("update", {"metadata": [{"team": "cv"}, {}], "tags": [["edge", "vision"], ["vision"]]}),
        ("update", {"metadata": [{}, {"epochs": "10"}]}),
    ]


def test_share_and_unshare_are_recorded(actor, owner, member_factory):
    model = RegisteredModelFactory(tenant=actor.tenant, owner=owner, name="detector")
    viewer = member_factory(Role.VIEWER, username="vic")
    services.catalog_entry_share(entry_class=RegisteredModel, actor=actor, entry_id=model.pk,
                                 level="change", user_ids=[viewer.pk])
    services.catalog_entry_unshare(entry_class=RegisteredModel, actor=actor, entry_id=model.pk,
                                   level="view", user_ids=[viewer.pk])

    assert trail() == [
        ("share", "olga", "RegisteredModel", "detector",
         {"groups": [None, []], "level": [None, "change"], "users": [None, [viewer.pk]]}),
        ("unshare", "olga", "RegisteredModel", "detector",
         {"groups": [None, []], "level": [None, "view"], "users": [None, [viewer.pk]]}),
    ]


def test_alias_set_move_and_remove_are_recorded(actor, owner):
    model = RegisteredModelFactory(tenant=actor.tenant, owner=owner, name="detector")
    first, second = ModelVersionFactory(model=model), ModelVersionFactory(model=model)
    for version in (first, first, second):  # setting it again to the same version is no change
        services.model_alias_set(actor=actor, model_id=model.pk, alias="production",
                                 version_id=version.pk)
    services.model_alias_remove(actor=actor, model_id=model.pk, alias="production")

    assert trail() == [
        ("alias.set", "olga", "ModelAlias", "production", {"version": [None, first.pk]}),
        ("alias.move", "olga", "ModelAlias", "production",
         {"version": [first.pk, second.pk]}),
        ("alias.remove", "olga", "ModelAlias", "production", {}),
    ]


def test_protecting_an_alias_and_freezing_a_version_are_recorded(actor, owner):
    model = RegisteredModelFactory(tenant=actor.tenant, owner=owner, name="detector")
    version = ModelVersionFactory(model=model, version="1.0.0")
    services.model_alias_set(actor=actor, model_id=model.pk, alias="production",
                             version_id=version.pk)
    for protected in (True, True):  # protecting it again is no change
        services.model_alias_protect(actor=actor, model_id=model.pk, alias="production",
                                     protected=protected)
    services.version_immutable_set(actor=actor, version=version, immutable=True)

    assert trail()[1:] == [
        ("alias.protect", "olga", "ModelAlias", "production", {"protected": [False, True]}),
        ("immutable", "olga", "ModelVersion", "1.0.0", {"immutable": [False, True]}),
    ]


def test_serving_records_are_recorded_and_follow_their_model(actor, owner, member_factory,
                                                             default_tenant):
    admin = actor_for(user=member_factory(Role.ADMIN, username="ada"), tenant=default_tenant)
    model = RegisteredModelFactory(tenant=actor.tenant, owner=owner, name="detector")
    version = ModelVersionFactory(model=model, version="1.0.0")
    environment = deployment_services.environment_create(actor=admin, name="edge")
    service = deployment_services.inference_service_create(
        actor=actor, environment_id=environment.pk, model_version_id=version.pk, name="cam")
    deployment_services.inference_service_update(actor=actor, service_id=service.pk,
                                                 state="undeployed")
    deployment_services.inference_service_delete(actor=actor, service_id=service.pk)
    deployment_services.environment_delete(actor=admin, environment_id=environment.pk)

    assert trail() == [
        ("create", "ada", "ServingEnvironment", "edge",
         {"description": [None, ""], "name": [None, "edge"]}),
        ("create", "olga", "InferenceService", str(service),
         {"endpoint_url": [None, ""], "environment": [None, environment.pk],
          "labels": [None, {}], "model_version": [None, version.pk], "name": [None, "cam"],
          "runtime": [None, ""], "state": [None, "deployed"]}),
        ("update", "olga", "InferenceService", str(service),
         {"state": ["deployed", "undeployed"]}),
        ("delete", "olga", "InferenceService", str(service), {}),
        ("delete", "ada", "ServingEnvironment", "edge", {}),
    ]
    service_entries = AuditEntry.objects.filter(object_kind="InferenceService")
    assert {(e.catalog_kind, e.catalog_id) for e in service_entries} == {
        ("RegisteredModel", model.pk)}


def test_a_scan_verdict_and_a_release_are_recorded(actor, owner, member_factory):
    model = RegisteredModelFactory(tenant=actor.tenant, owner=owner, name="detector")
    artifact = artifact_file(ModelVersionFactory(model=model), path="model.pkl",
                             content=b"\x80\x04cos\nsystem\n.", scan_status=ScanStatus.PENDING)
    scanning_services.scan_file(file_id=artifact.pk)
    admin = member_factory(Role.ADMIN, username="ada")
    scanning_services.file_release(actor=actor_for(user=admin, tenant=actor.tenant),
                                   file_id=artifact.pk, reason="our own pickle")

    assert trail() == [
        ("scan.verdict", "scanner", "ArtifactFile", "model.pkl",
         {"scan_status": ["pending", "flagged"], "verdict": [None, "flagged"]}),
        ("scan.release", "ada", "ArtifactFile", "model.pkl",
         {"release_reason": [None, "our own pickle"], "scan_status": ["flagged", "released"]}),
    ]
    assert AuditEntry.objects.order_by("pk").first().actor_kind == "system"


def test_token_creation_and_a_role_change_are_recorded(member_factory, default_tenant):
    admin = member_factory(Role.ADMIN, username="ada")
    member = member_factory(Role.VIEWER, username="vic")
    admin_actor = actor_for(user=admin, tenant=default_tenant)
    api_token, _ = account_services.api_token_create(actor=admin_actor, name="ci",
                                                     scopes=["read"])
    account_services.member_role_set(actor=admin_actor, user_id=member.pk, role=Role.MAINTAINER)

    assert trail() == [
        ("token.create", "ada", "ApiToken", "ci",
         {"expires_at": [None, api_token.expires_at.isoformat()], "name": [None, "ci"],
          "scopes": [None, ["read"]]}),
        ("member.role", "ada", "Membership", "vic", {"role": ["viewer", "maintainer"]}),
    ]


def test_a_refused_login_is_recorded(default_tenant):
    assert authenticate(username="mallory", password="guess") is None

    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_kind, entry.object_kind, entry.object_name,
            entry.changes) == ("login.refused", "anonymous", "User", "mallory", {})


def test_a_refused_api_token_is_recorded(client, default_tenant):
    response = client.post("/graphql/", data={"query": "{ serverInfo { name } }"},
                           content_type="application/json",
                           headers={"Authorization": "Bearer rgk_" + "0" * 16 + "_secret"})

    assert response.status_code == 401
    assert [(e.action, e.object_kind, e.object_name) for e in AuditEntry.objects.all()] == [
        ("token.refused", "ApiToken", "rgk_" + "0" * 16)]
