"""Serving environments and inference services through GraphQL: CRUD with its refusals, and
who sees what."""

import pytest
from django.core.exceptions import ValidationError

from accounts import services as account_services
from accounts.models import Role
from accounts.selectors import actor_for
from deployments import selectors
from deployments import services as deployment_services
from deployments.models import DeploymentState, InferenceService, ServingEnvironment
from mlflow_compat import services as mlflow_services
from registry import models, services
from tests.deployments.conftest import gid
from tests.factories import TenantFactory

ERRORS = "... on OperationInfo { messages { kind code field message } }"
SERVICE_FIELDS = ("id name state runtime endpointUrl labels environment { name } "
                  "modelVersion { version model { name } } createdBy { username } "
                  "updatedBy { username }")
CREATE_SERVICE = ("mutation($data: CreateInferenceServiceInput!) { createInferenceService("
                  f"data: $data) {{ __typename ... on InferenceService {{ {SERVICE_FIELDS} }} "
                  f"{ERRORS} }} }}")
UPDATE_SERVICE = ("mutation($data: UpdateInferenceServiceInput!) { updateInferenceService("
                  f"data: $data) {{ __typename ... on InferenceService {{ {SERVICE_FIELDS} }} "
                  f"{ERRORS} }} }}")
DELETE_SERVICE = ("mutation($id: ID!) { deleteInferenceService(id: $id) { __typename "
                  f"... on Deletion {{ deletedId }} {ERRORS} }} }}")
CREATE_ENVIRONMENT = ("mutation($data: CreateServingEnvironmentInput!) { "
                      "createServingEnvironment(data: $data) { __typename "
                      f"... on ServingEnvironment {{ name description }} {ERRORS} }} }}")
DELETE_ENVIRONMENT = ("mutation($id: ID!) { deleteServingEnvironment(id: $id) { __typename "
                      f"... on Deletion {{ deletedId }} {ERRORS} }} }}")
DELETE_VERSION = ("mutation($id: ID!) { deleteModelVersion(id: $id) { __typename "
                  f"... on Deletion {{ deletedId }} {ERRORS} }} }}")
LIST_SERVICES = """query($f: InferenceServiceFilter) { inferenceServices(filters: $f) {
  totalCount edges { node { name } } } }"""


def service_input(world, **overrides) -> dict:
    return {"environmentId": gid(world.environment), "modelVersionId": gid(world.public_version),
            "name": "detector-edge", "runtime": "openvino-model-server",
            "endpointUrl": "https://serving.example/v2/models/detector",
            "labels": {"team": "vision"}, **overrides}


def deploy(world, version, name: str, state=DeploymentState.DEPLOYED) -> InferenceService:
    return deployment_services.inference_service_create(
        actor=world.actor("owner"), environment_id=world.environment.pk,
        model_version_id=version.pk, name=name, state=state)


def refusal(code: str, field: str, message: str) -> dict:
    return {"__typename": "OperationInfo", "messages": [
        {"kind": "VALIDATION", "code": code, "field": field, "message": message}]}


@pytest.mark.django_db
def test_the_models_owner_creates_a_service_and_the_version_lists_it(world):
    result = world.client("owner")(CREATE_SERVICE, {"data": service_input(world)})
    created = result.data["createInferenceService"]
    version = world.client("viewer")(
        "query($id: ID!) { node(id: $id) { ... on ModelVersion { inferenceServices { name state "
        "} } } }", {"id": gid(world.public_version)}).data["node"]

    service = InferenceService.objects.get()
    assert created == {
        "__typename": "InferenceService", "id": gid(service), "name": "detector-edge",
        "state": "DEPLOYED", "runtime": "openvino-model-server",
        "endpointUrl": "https://serving.example/v2/models/detector", "labels": {"team": "vision"},
        "environment": {"name": "production"},
        "modelVersion": {"version": "1.0.0", "model": {"name": "detector"}},
        "createdBy": {"username": "owner"}, "updatedBy": {"username": "owner"},
    }
    assert version == {"inferenceServices": [{"name": "detector-edge", "state": "DEPLOYED"}]}


LABELS_MESSAGE = ("Labels are a JSON object of at most 64 string keys (1-63 characters) to "
                  "string values (at most 255 characters).")


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "expected"), [
    ({"endpointUrl": "ftp://serving.example/model"},
     refusal("invalid_endpoint_url", "endpointUrl",
             "Use an absolute http(s) URL of at most 2000 characters.")),
    ({"endpointUrl": "serving.example/model"},
     refusal("invalid_endpoint_url", "endpointUrl",
             "Use an absolute http(s) URL of at most 2000 characters.")),
    ({"labels": {"team": 7}}, refusal("invalid_labels", "labels", LABELS_MESSAGE)),
    ({"labels": ["team", "vision"]}, refusal("invalid_labels", "labels", LABELS_MESSAGE)),
    ({"labels": {"": "vision"}}, refusal("invalid_labels", "labels", LABELS_MESSAGE)),
    ({"name": "taken"}, refusal("duplicate_name", "name",
                                "'taken' already exists in this serving environment.")),
    ({"name": "no spaces"}, refusal(
        "invalid_name", "name", "'no spaces': use 1-200 letters, digits, '.', '_' or '-', "
                                "starting with a letter or digit.")),
])
def test_invalid_services_are_refused_and_nothing_is_created(world, overrides, expected):
    deploy(world, world.private_version, "taken")

    result = world.client("owner")(CREATE_SERVICE, {"data": service_input(world, **overrides)})

    assert result.data["createInferenceService"] == expected
    assert list(InferenceService.objects.values_list("name", flat=True)) == ["taken"]


@pytest.mark.django_db
def test_another_tenants_version_or_environment_is_not_found(world, member_factory):
    other_tenant = TenantFactory(slug="other-corp")
    other_admin = member_factory(Role.ADMIN, tenant=other_tenant, username="other-admin")
    other_actor = actor_for(user=other_admin, tenant=other_tenant)
    other_model = services.catalog_entry_create(entry_class=models.RegisteredModel,
                                                actor=other_actor, name="theirs",
                                                visibility=models.Visibility.PUBLIC)
    other_version = services.version_create(version_class=models.ModelVersion,
                                            actor=other_actor, parent_id=other_model.pk,
                                            version="1.0.0")
    other_environment = deployment_services.environment_create(actor=other_actor, name="edge")
    client = world.client("admin")

    by_version = client(CREATE_SERVICE, {"data": service_input(
        world, modelVersionId=gid(other_version))}).data["createInferenceService"]
    by_environment = client(CREATE_SERVICE, {"data": service_input(
        world, environmentId=gid(other_environment))}).data["createInferenceService"]

    assert by_version == refusal("not_found", "modelVersionId", "Not found.")
    assert by_environment == refusal("not_found", "environmentId", "Not found.")
    assert InferenceService.objects.count() == 0


@pytest.mark.django_db
def test_a_viewer_sees_services_of_the_models_they_see_and_may_change_none(world):
    public = deploy(world, world.public_version, "public-edge")
    private = deploy(world, world.private_version, "private-edge")
    viewer, admin = world.client("viewer"), world.client("admin")

    seen_by_viewer = viewer(LIST_SERVICES).data["inferenceServices"]
    seen_by_admin = admin(LIST_SERVICES).data["inferenceServices"]
    private_node = viewer("query($id: ID!) { node(id: $id) { id } }", {"id": gid(private)})
    update = viewer(UPDATE_SERVICE, {"data": {"id": gid(public), "state": "UNDEPLOYED"}})
    create = viewer(CREATE_SERVICE, {"data": service_input(world)})

    assert seen_by_viewer == {"totalCount": 1, "edges": [{"node": {"name": "public-edge"}}]}
    assert seen_by_admin == {"totalCount": 2, "edges": [{"node": {"name": "private-edge"}},
                                                        {"node": {"name": "public-edge"}}]}
    assert private_node.data == {"node": None}
    # Seeing the model is not changing it: the same answer as for a service that is not there.
    assert update.data["updateInferenceService"] == refusal("not_found", "id", "Not found.")
    assert create.data["createInferenceService"] == refusal("not_found", "modelVersionId",
                                                            "Not found.")
    assert InferenceService.objects.get(pk=public.pk).state == DeploymentState.DEPLOYED


@pytest.mark.django_db
def test_filters_select_by_state_environment_and_model_version(world):
    deploy(world, world.public_version, "live")
    deploy(world, world.public_version, "old", state=DeploymentState.UNDEPLOYED)
    deploy(world, world.private_version, "secret")
    client = world.client("owner")

    def names(filters) -> list[str]:
        edges = client(LIST_SERVICES, {"f": filters}).data["inferenceServices"]["edges"]
        return [edge["node"]["name"] for edge in edges]

    assert names({"state": {"exact": "UNDEPLOYED"}}) == ["old"]
    assert names({"modelVersion": gid(world.public_version)}) == ["live", "old"]
    assert names({"model": gid(world.private_model)}) == ["secret"]
    assert names({"environment": gid(world.environment), "name": {"startsWith": "s"}}) == [
        "secret"]
    assert names({"environment": "U2VydmluZ0Vudmlyb25tZW50Ojk5OTk="}) == []


@pytest.mark.django_db
def test_update_repoints_undeploys_and_delete_removes(world):
    service = deploy(world, world.public_version, "edge")
    client = world.client("owner")

    updated = client(UPDATE_SERVICE, {"data": {
        "id": gid(service), "state": "UNDEPLOYED", "modelVersionId": gid(world.private_version),
        "labels": {"stage": "canary"}, "endpointUrl": "http://10.0.0.5:8000/"}}).data
    bad = client(UPDATE_SERVICE, {"data": {"id": gid(service), "labels": {"a": None}}}).data
    deleted = client(DELETE_SERVICE, {"id": gid(service)}).data

    assert updated["updateInferenceService"]["state"] == "UNDEPLOYED"
    assert updated["updateInferenceService"]["modelVersion"] == {
        "version": "1.0.0", "model": {"name": "secret-detector"}}
    assert updated["updateInferenceService"]["labels"] == {"stage": "canary"}
    assert updated["updateInferenceService"]["endpointUrl"] == "http://10.0.0.5:8000/"
    assert bad["updateInferenceService"] == refusal("invalid_labels", "labels", LABELS_MESSAGE)
    assert deleted == {"deleteInferenceService": {"__typename": "Deletion",
                                                  "deletedId": gid(service)}}
    assert InferenceService.objects.count() == 0


@pytest.mark.django_db
def test_environments_are_the_tenant_admins_and_visible_to_members(world):
    maintainer = world.client("owner")
    admin = world.client("admin")

    refused = maintainer(CREATE_ENVIRONMENT, {"data": {"name": "staging"}}).data
    duplicate = admin(CREATE_ENVIRONMENT, {"data": {"name": "production"}}).data
    created = admin(CREATE_ENVIRONMENT, {"data": {"name": "staging",
                                                  "description": "pre-prod"}}).data
    listed = world.client("viewer")(
        "{ servingEnvironments(filters: {name: {startsWith: \"prod\"}}) { totalCount "
        "edges { node { name description createdBy { username } } } } }").data

    assert refused == {"createServingEnvironment": {"__typename": "OperationInfo", "messages": [
        {"kind": "PERMISSION", "code": "permission_denied", "field": None,
         "message": "Only tenant admins may do this."}]}}
    assert duplicate == {"createServingEnvironment": refusal(
        "duplicate_name", "name", "'production' already exists in this tenant.")}
    assert created == {"createServingEnvironment": {
        "__typename": "ServingEnvironment", "name": "staging", "description": "pre-prod"}}
    assert listed == {"servingEnvironments": {"totalCount": 1, "edges": [{"node": {
        "name": "production", "description": "The edge fleet",
        "createdBy": {"username": "admin"}}}]}}


@pytest.mark.django_db
def test_an_environment_holding_services_is_not_deleted(world):
    service = deploy(world, world.public_version, "edge", state=DeploymentState.UNDEPLOYED)
    admin = world.client("admin")

    refused = admin(DELETE_ENVIRONMENT, {"id": gid(world.environment)}).data
    deployment_services.inference_service_delete(actor=world.actor("owner"),
                                                 service_id=service.pk)
    deleted = admin(DELETE_ENVIRONMENT, {"id": gid(world.environment)}).data

    assert refused == {"deleteServingEnvironment": refusal(
        "environment_not_empty", "id",
        "The serving environment holds inference services; delete them first.")}
    assert deleted == {"deleteServingEnvironment": {"__typename": "Deletion",
                                                    "deletedId": gid(world.environment)}}
    assert ServingEnvironment.objects.count() == 0


@pytest.mark.django_db
def test_a_deployed_version_is_not_deleted_until_undeployed(world):
    service = deploy(world, world.public_version, "edge")
    client = world.client("owner")

    refused = client(DELETE_VERSION, {"id": gid(world.public_version)}).data
    client(UPDATE_SERVICE, {"data": {"id": gid(service), "state": "UNDEPLOYED"}})
    deleted = client(DELETE_VERSION, {"id": gid(world.public_version)}).data

    assert refused == {"deleteModelVersion": refusal(
        "version_deployed", "id",
        "A DEPLOYED inference service serves this version; undeploy it first.")}
    assert deleted == {"deleteModelVersion": {"__typename": "Deletion",
                                              "deletedId": gid(world.public_version)}}
    # The version is in the trash; its UNDEPLOYED service goes with it when it is purged.
    assert InferenceService.objects.get().model_version.trashed_at is not None


@pytest.mark.django_db
def test_the_mlflow_adapter_refuses_to_delete_a_deployed_version(world):
    deploy(world, world.public_version, "edge")

    with pytest.raises(ValidationError) as refused:
        mlflow_services.model_version_delete(actor=world.actor("owner"),
                                             version=world.public_version)

    assert refused.value.error_dict["version"][0].code == "version_deployed"
    assert models.ModelVersion.objects.filter(pk=world.public_version.pk).exists() is True


@pytest.mark.django_db
def test_deployed_version_ids_name_only_live_deployments(world):
    deploy(world, world.public_version, "live")
    deploy(world, world.private_version, "old", state=DeploymentState.UNDEPLOYED)

    assert list(selectors.deployed_version_ids().values_list("model_version_id", flat=True)) == [
        world.public_version.pk]
    assert selectors.version_is_deployed(world.public_version) is True
    assert selectors.version_is_deployed(world.private_version) is False


@pytest.mark.django_db
def test_a_model_with_a_deployed_version_is_not_deleted_until_undeployed(world):
    service = deploy(world, world.public_version, "edge")
    delete_model = ("mutation($id: ID!) { deleteModel(id: $id) { __typename "
                    f"... on Deletion {{ deletedId }} {ERRORS} }} }}")
    client = world.client("owner")

    refused = client(delete_model, {"id": gid(world.public_model)}).data
    client(UPDATE_SERVICE, {"data": {"id": gid(service), "state": "UNDEPLOYED"}})
    deleted = client(delete_model, {"id": gid(world.public_model)}).data

    assert refused == {"deleteModel": refusal(
        "version_deployed", "id",
        "A DEPLOYED inference service serves this version; undeploy it first.")}
    assert deleted == {"deleteModel": {"__typename": "Deletion",
                                       "deletedId": gid(world.public_model)}}
    assert InferenceService.objects.count() == 0


@pytest.mark.django_db
def test_deleting_a_tenant_takes_its_serving_records(member_factory):
    tenant = TenantFactory(slug="leaving-corp")
    admin = member_factory(Role.ADMIN, tenant=tenant, username="leaving-admin")
    actor = actor_for(user=admin, tenant=tenant)
    model = services.catalog_entry_create(entry_class=models.RegisteredModel, actor=actor,
                                          name="detector")
    version = services.version_create(version_class=models.ModelVersion, actor=actor,
                                      parent_id=model.pk, version="1.0.0")
    environment = deployment_services.environment_create(actor=actor, name="edge")
    deployment_services.inference_service_create(actor=actor, environment_id=environment.pk,
                                                 model_version_id=version.pk, name="live")

    account_services.tenant_delete(tenant_id=tenant.pk, confirm_slug="leaving-corp")

    assert (ServingEnvironment.objects.count(), InferenceService.objects.count()) == (0, 0)
