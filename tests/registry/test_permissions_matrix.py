"""Who may do what to a model (and its dataset, versions and files): every caller × every
operation, for a private and for a public subject, each cell with its exact outcome.

Operations:
- list: the subject model and dataset in `models`/`datasets` (with an exact `totalCount`);
- node: `node(id)` of the model, the dataset, and the version, file and alias they own;
- nested: the subject as seen from public neighbours (`RegisteredModel.datasets`,
  `ModelVersion.datasetVersions`, `DatasetVersion.modelVersions`) — `no_access` when the
  neighbours themselves are out of reach;
- update / delete / share: `updateModel`, `deleteModel`, `shareObject`;
- download: the file (HEAD) and the version archive (GET);
- update version / delete version / delete file: `updateModelVersion` of the model's version,
  `deleteDatasetVersion` of the dataset's (no alias holds it), `deleteFile` of the file;
- history: `aliasHistory` and `modelVersionAt` of the model's alias;
- protect alias / freeze version: `protectModelAlias` of the model's alias,
  `setDatasetVersionImmutable` of the dataset's version.
A refused mutation leaves the database as it was and answers exactly what the same mutation
answers for an id that does not exist; a refused download is the 404 of a missing file.
The serving records and impact queries have a table of their own, at the end.
"""

import pytest
from django.utils import timezone
from strawberry.relay import to_base64

from deployments import services as deployment_services
from deployments.models import InferenceService, ServingEnvironment
from registry import services as registry_services
from registry.models import (
    ArtifactFile,
    Dataset,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    Visibility,
)
from registry.urls_public import archive_url, file_download_url
from tests.factories import DatasetVersionFactory, artifact_file
from tests.registry.permissions_world import (
    CALLERS,
    build_world,
    catalog_state,
    gid,
    missing_gid,
)

OPERATIONS = ["list", "node", "nested", "update", "delete", "share", "download",
              "update_version", "delete_version", "delete_file", "history", "protect_alias",
              "freeze_version"]
OK, NF = "ok", "not_found"

# Columns in the order of OPERATIONS (the last three: update version, delete version and
# delete file):     list      node      nested     update delete share download
PRIVATE = {
    "anonymous":      ("hidden", "null", "hidden",    NF, NF, NF, "404",  NF, NF, NF),
    "viewer":         ("hidden", "null", "hidden",    NF, NF, NF, "404",  NF, NF, NF),
    "maintainer":     ("hidden", "null", "hidden",    NF, NF, NF, "404",  NF, NF, NF),
    "owner":          ("shown", "found", "shown",     OK, OK, OK, "200",  OK, OK, OK),
    "shared_user":    ("shown", "found", "shown",     NF, NF, NF, "200",  NF, NF, NF),
    "group_member":   ("shown", "found", "shown",     NF, NF, NF, "200",  NF, NF, NF),
    "change_grantee": ("shown", "found", "shown",     OK, NF, NF, "200",  OK, NF, NF),
    "manage_grantee": ("shown", "found", "shown",     OK, OK, OK, "200",  OK, OK, OK),
    "tenant_admin":   ("shown", "found", "shown",     OK, OK, OK, "200",  OK, OK, OK),
    "other_tenant":   ("hidden", "null", "no_access", NF, NF, NF, "404",  NF, NF, NF),
    "superuser":      ("shown", "found", "shown",     OK, OK, OK, "200",  OK, OK, OK),
}
PUBLIC = {
    "anonymous":      ("shown", "found", "shown",     NF, NF, NF, "200",  NF, NF, NF),
    "viewer":         ("shown", "found", "shown",     NF, NF, NF, "200",  NF, NF, NF),
    "maintainer":     ("shown", "found", "shown",     NF, NF, NF, "200",  NF, NF, NF),
    "owner":          ("shown", "found", "shown",     OK, OK, OK, "200",  OK, OK, OK),
    "shared_user":    ("shown", "found", "shown",     NF, NF, NF, "200",  NF, NF, NF),
    "group_member":   ("shown", "found", "shown",     NF, NF, NF, "200",  NF, NF, NF),
    "change_grantee": ("shown", "found", "shown",     OK, NF, NF, "200",  OK, NF, NF),
    "manage_grantee": ("shown", "found", "shown",     OK, OK, OK, "200",  OK, OK, OK),
    "tenant_admin":   ("shown", "found", "shown",     OK, OK, OK, "200",  OK, OK, OK),
    "other_tenant":   ("hidden", "null", "no_access", NF, NF, NF, "404",  NF, NF, NF),
    "superuser":      ("shown", "found", "shown",     OK, OK, OK, "200",  OK, OK, OK),
}
# Then history, protect alias and freeze version: the history is seen by whoever sees the
# model; protecting an alias and freezing a version take the right to delete.
HISTORY_AND_GUARDS = {
    Visibility.PRIVATE: {
        "anonymous": ("hidden", NF, NF), "viewer": ("hidden", NF, NF),
        "maintainer": ("hidden", NF, NF), "owner": ("shown", OK, OK),
        "shared_user": ("shown", NF, NF), "group_member": ("shown", NF, NF),
        "change_grantee": ("shown", NF, NF), "manage_grantee": ("shown", OK, OK),
        "tenant_admin": ("shown", OK, OK), "other_tenant": ("hidden", NF, NF),
        "superuser": ("shown", OK, OK),
    },
    Visibility.PUBLIC: {
        "anonymous": ("shown", NF, NF), "viewer": ("shown", NF, NF),
        "maintainer": ("shown", NF, NF), "owner": ("shown", OK, OK),
        "shared_user": ("shown", NF, NF), "group_member": ("shown", NF, NF),
        "change_grantee": ("shown", NF, NF), "manage_grantee": ("shown", OK, OK),
        "tenant_admin": ("shown", OK, OK), "other_tenant": ("hidden", NF, NF),
        "superuser": ("shown", OK, OK),
    },
}
EXPECTED = {visibility: {caller: row + HISTORY_AND_GUARDS[visibility][caller]
                         for caller, row in table.items()}
            for visibility, table in [(Visibility.PRIVATE, PRIVATE),
                                      (Visibility.PUBLIC, PUBLIC)]}

LIST = """{
  models(first: 100) { totalCount edges { node { id } } }
  datasets(first: 100) { totalCount edges { node { id } } }
}"""
NODES = """query($ids: [ID!]!) { nodes(ids: $ids) { id } }"""
NESTED = """query($model: ID!, $datasetVersion: ID!) {
  model: node(id: $model) { ... on RegisteredModel {
    datasets { id } latestVersion { datasetVersions { id } } } }
  datasetVersion: node(id: $datasetVersion) { ... on DatasetVersion { modelVersions { id } } }
}"""
OPERATION_INFO = "... on OperationInfo { messages { kind code field message } }"
UPDATE = ("mutation($id: ID!) { updateModel(data: {id: $id, description: \"changed\"}) { "
          "__typename ... on RegisteredModel { description } " + OPERATION_INFO + " } }")
DELETE = ("mutation($id: ID!) { deleteModel(id: $id) { __typename "
          "... on Deletion { deletedId } " + OPERATION_INFO + " } }")
SHARE = ("mutation($id: ID!, $user: ID!) { shareObject(id: $id, users: [$user]) { "
         "__typename ... on Sharing { grants { permission user { username } } } "
         + OPERATION_INFO + " } }")
UPDATE_VERSION = ("mutation($id: ID!) { updateModelVersion(data: {id: $id, description: "
                  "\"changed\"}) { __typename ... on ModelVersion { description } "
                  + OPERATION_INFO + " } }")
DELETE_VERSION = ("mutation($id: ID!) { deleteDatasetVersion(id: $id) { __typename "
                  "... on Deletion { deletedId } " + OPERATION_INFO + " } }")
DELETE_FILE = ("mutation($id: ID!) { deleteFile(id: $id) { __typename "
               "... on Deletion { deletedId } " + OPERATION_INFO + " } }")
PROTECT_ALIAS = ("mutation($id: ID!) { protectModelAlias(modelId: $id, alias: \"champion\", "
                 "protected: true) { __typename ... on ModelAlias { protected } "
                 + OPERATION_INFO + " } }")
FREEZE_VERSION = ("mutation($id: ID!) { setDatasetVersionImmutable(id: $id, immutable: true) "
                  "{ __typename ... on DatasetVersion { immutable } " + OPERATION_INFO + " } }")
HISTORY = """query($model: ID!, $at: DateTime!) {
  aliasHistory(modelId: $model, alias: "champion") {
    totalCount edges { node { action version { id } actorName } } }
  modelVersionAt(modelId: $model, alias: "champion", at: $at) { id }
}"""
# operation: (mutation, the world's object that `$id` names)
MUTATIONS = {"update": (UPDATE, "model"), "delete": (DELETE, "model"), "share": (SHARE, "model"),
             "update_version": (UPDATE_VERSION, "model_version"),
             "delete_version": (DELETE_VERSION, "dataset_version"),
             "delete_file": (DELETE_FILE, "file"),
             "protect_alias": (PROTECT_ALIAS, "model"),
             "freeze_version": (FREEZE_VERSION, "dataset_version")}


def _outcome_list(world, caller) -> str:
    data = world.graphql(caller)(LIST).data
    seen = set()
    for name in ("models", "datasets"):
        edges = data[name]["edges"]
        assert data[name]["totalCount"] == len(edges)
        seen |= {edge["node"]["id"] for edge in edges}
    subject = {gid(world.model), gid(world.dataset)}
    return {frozenset(subject): "shown", frozenset(): "hidden"}[frozenset(seen & subject)]


def _outcome_node(world, caller) -> str:
    owned = [world.model, world.dataset, world.model_version, world.dataset_version,
             world.file, world.alias]
    ids = [gid(obj) for obj in owned]
    found = world.graphql(caller)(NODES, {"ids": ids}).data["nodes"]
    if found == [{"id": node_id} for node_id in ids]:
        return "found"
    assert found == [None] * len(ids)
    return "null"


def _outcome_nested(world, caller) -> str:
    data = world.graphql(caller)(NESTED, {
        "model": gid(world.public_model), "datasetVersion": gid(world.public_dataset_version),
    }).data
    if data == {"model": None, "datasetVersion": None}:
        return "no_access"
    shown = {"model": {"datasets": [{"id": gid(world.dataset)}],
                       "latestVersion": {"datasetVersions": [
                           {"id": gid(world.dataset_version)}]}},
             "datasetVersion": {"modelVersions": [{"id": gid(world.model_version)}]}}
    hidden = {"model": {"datasets": [], "latestVersion": {"datasetVersions": []}},
              "datasetVersion": {"modelVersions": []}}
    return {str(shown): "shown", str(hidden): "hidden"}[str(data)]


def _outcome_history(world, caller) -> str:
    data = world.graphql(caller)(HISTORY, {"model": gid(world.model),
                                           "at": timezone.now().isoformat()}).data
    if data == {"aliasHistory": {"totalCount": 0, "edges": []}, "modelVersionAt": None}:
        return "hidden"
    assert data == {"aliasHistory": {"totalCount": 1, "edges": [{"node": {
        "action": "SET", "version": {"id": gid(world.model_version)}, "actorName": "owner"}}]},
        "modelVersionAt": {"id": gid(world.model_version)}}
    return "shown"


def _mutation_variables(world, operation: str, target_id: str) -> dict:
    variables = {"id": target_id}
    if operation == "share":
        variables["user"] = gid(world.users["viewer"])
    return variables


def _outcome_mutation(world, caller, operation: str) -> str:
    client = world.graphql(caller)
    query, target = MUTATIONS[operation]
    subject = getattr(world, target)
    before = catalog_state()
    result = client(query, _mutation_variables(world, operation, gid(subject)))
    payload = next(iter(result.data.values()))
    if payload["__typename"] != "OperationInfo":
        return OK
    assert payload["messages"] == [{"kind": "VALIDATION", "code": "not_found", "field": "id",
                                    "message": "Not found."}]
    # Refused: nothing changed, and the answer is the one for an object that never existed.
    assert catalog_state() == before
    missing = client(query, _mutation_variables(world, operation, missing_gid(type(subject))))
    assert (missing.status_code, missing.body) == (result.status_code, result.body)
    return NF


def _outcome_download(world, caller) -> str:
    client = world.http(caller)
    headers = world.headers(caller)
    before = catalog_state()
    file_response = client.head(file_download_url(world.file), headers=headers)
    archive_response = client.get(archive_url(world.model_version), headers=headers)
    statuses = {file_response.status_code, archive_response.status_code}
    assert len(statuses) == 1, statuses
    status = statuses.pop()
    if status == 404:
        assert catalog_state() == before
        missing_file = ArtifactFile(pk=world.file.pk + 1000)
        missing_version = ModelVersion(pk=world.model_version.pk + 1000)
        assert client.head(file_download_url(missing_file), headers=headers).content == (
            file_response.content)
        assert client.get(archive_url(missing_version), headers=headers).content == (
            archive_response.content)
    return str(status)


def _outcome(world, caller, operation) -> str:
    if operation in MUTATIONS:
        return _outcome_mutation(world, caller, operation)
    return {"list": _outcome_list, "node": _outcome_node, "nested": _outcome_nested,
            "download": _outcome_download, "history": _outcome_history}[operation](world, caller)


@pytest.mark.django_db
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("visibility", [Visibility.PRIVATE, Visibility.PUBLIC])
def test_permission_matrix(visibility, caller, operation):
    world = build_world(visibility)

    outcome = _outcome(world, caller, operation)

    assert outcome == EXPECTED[visibility][caller][OPERATIONS.index(operation)]


@pytest.mark.django_db
@pytest.mark.parametrize("caller", ["owner", "tenant_admin", "manage_grantee", "superuser"])
def test_allowed_mutations_take_effect(caller):
    world = build_world(Visibility.PRIVATE)
    client = world.graphql(caller)

    updated = client(UPDATE, {"id": gid(world.model)}).data["updateModel"]
    shared = client(SHARE, {"id": gid(world.model),
                            "user": gid(world.users["viewer"])}).data["shareObject"]
    version_updated = client(UPDATE_VERSION, {"id": gid(world.model_version)}).data
    file_deleted = client(DELETE_FILE, {"id": gid(world.file)}).data
    version_deleted = client(DELETE_VERSION, {"id": gid(world.dataset_version)}).data
    deleted = client(DELETE, {"id": gid(world.model)}).data["deleteModel"]

    assert updated == {"__typename": "RegisteredModel", "description": "changed"}
    assert shared == {"__typename": "Sharing", "grants": [
        {"permission": "CHANGE", "user": {"username": "change_grantee"}},
        {"permission": "VIEW", "user": {"username": "shared_user"}},
        {"permission": "VIEW", "user": {"username": "viewer"}},
        {"permission": "MANAGE", "user": None},
        {"permission": "VIEW", "user": None},
    ]}
    assert version_updated == {"updateModelVersion": {"__typename": "ModelVersion",
                                                      "description": "changed"}}
    assert file_deleted == {"deleteFile": {"__typename": "Deletion",
                                           "deletedId": gid(world.file)}}
    assert version_deleted == {"deleteDatasetVersion": {
        "__typename": "Deletion", "deletedId": gid(world.dataset_version)}}
    assert deleted == {"__typename": "Deletion", "deletedId": gid(world.model)}
    assert RegisteredModel.objects.filter(pk=world.model.pk).exists() is False
    assert ArtifactFile.objects.filter(pk=world.file.pk).exists() is False
    assert Dataset.objects.filter(pk=world.dataset.pk).exists() is True
    # Deleting a version goes to the tenant's trash: kept, hidden, restorable by its admins.
    assert DatasetVersion.objects.filter(pk=world.dataset_version.pk,
                                         trashed_at__isnull=False).exists() is True
    # Deleting the model leaves the dataset versions of its lineage.
    assert DatasetVersion.objects.filter(pk=world.public_dataset_version.pk).exists() is True


# --- Serving records and impact -----------------------------------------------------------
# An inference service on the subject model's version, in an environment of the tenant:
# - service_list / service_node: the service in `inferenceServices`, and `node(id)` of it;
# - impact: the subject version among `datasetVersionImpact` of the public dataset version it
#   is trained on (`no_access` when that dataset version is out of reach);
# - create / update / delete service: `createInferenceService` on the subject version,
#   `updateInferenceService` (undeploy) and `deleteInferenceService` of the service;
# - create environment: `createServingEnvironment` in the caller's tenant.
DEPLOYMENT_OPERATIONS = ["service_list", "service_node", "impact", "create_service",
                         "update_service", "delete_service", "create_environment"]
DENIED = "permission_denied"
_HIDDEN = ("hidden", "null", "hidden", NF, NF, NF, DENIED)
_SEEN = ("shown", "found", "shown", NF, NF, NF, DENIED)
_CHANGER = ("shown", "found", "shown", OK, OK, OK, DENIED)
_ADMIN = ("shown", "found", "shown", OK, OK, OK, OK)
DEPLOYMENTS_PRIVATE = {
    "anonymous": _HIDDEN, "viewer": _HIDDEN, "maintainer": _HIDDEN, "owner": _CHANGER,
    "shared_user": _SEEN, "group_member": _SEEN, "change_grantee": _CHANGER,
    "manage_grantee": _CHANGER, "tenant_admin": _ADMIN,
    "other_tenant": ("hidden", "null", "no_access", NF, NF, NF, OK), "superuser": _ADMIN,
}
DEPLOYMENTS_PUBLIC = {**DEPLOYMENTS_PRIVATE, "anonymous": _SEEN, "viewer": _SEEN,
                      "maintainer": _SEEN}
DEPLOYMENTS_EXPECTED = {Visibility.PRIVATE: DEPLOYMENTS_PRIVATE,
                        Visibility.PUBLIC: DEPLOYMENTS_PUBLIC}

SERVICE_MUTATIONS = {
    "create_service": ("mutation($environment: ID!, $version: ID!) { result: "
                       "createInferenceService(data: {environmentId: $environment, "
                       "modelVersionId: $version, name: \"new-service\"}) { __typename "
                       + OPERATION_INFO + " } }", "modelVersionId"),
    "update_service": ("mutation($id: ID!) { result: updateInferenceService(data: {id: $id, "
                       "state: UNDEPLOYED}) { __typename " + OPERATION_INFO + " } }", "id"),
    "delete_service": ("mutation($id: ID!) { result: deleteInferenceService(id: $id) { "
                       "__typename " + OPERATION_INFO + " } }", "id"),
}


def _deployment_world(visibility):
    world = build_world(visibility)
    environment = deployment_services.environment_create(actor=world.actor("tenant_admin"),
                                                         name="edge")
    service = deployment_services.inference_service_create(
        actor=world.actor("owner"), environment_id=environment.pk,
        model_version_id=world.model_version.pk, name="subject-service")
    return world, environment, service


def _services_state() -> list[dict]:
    return [*InferenceService.objects.order_by("pk").values(),
            *ServingEnvironment.objects.order_by("pk").values()]


def _deployment_outcome(world, environment, service, caller, operation) -> str:
    client = world.graphql(caller)
    service_id = to_base64("InferenceService", service.pk)
    if operation == "service_list":
        data = client("{ inferenceServices { totalCount edges { node { id } } } }").data
        listed = data["inferenceServices"]
        assert listed["totalCount"] == len(listed["edges"])
        return "shown" if listed["edges"] == [{"node": {"id": service_id}}] else (
            "hidden" if listed["edges"] == [] else str(listed))
    if operation == "service_node":
        node = client("query($id: ID!) { node(id: $id) { id } }", {"id": service_id}).data
        return {str({"node": {"id": service_id}}): "found", str({"node": None}): "null"}[
            str(node)]
    if operation == "impact":
        impact = client("query($id: ID!) { datasetVersionImpact(id: $id) { modelVersions { id "
                        "} } }", {"id": gid(world.public_dataset_version)}).data
        impact = impact["datasetVersionImpact"]
        if impact is None:
            return "no_access"
        return {str([{"id": gid(world.model_version)}]): "shown", "[]": "hidden"}[
            str(impact["modelVersions"])]
    before = _services_state()
    if operation == "create_environment":
        result = client("mutation { result: createServingEnvironment(data: {name: \"new-env\"})"
                        " { __typename " + OPERATION_INFO + " } }").data["result"]
        if result["__typename"] == "OperationInfo":
            assert [m["code"] for m in result["messages"]] == [DENIED]
            assert _services_state() == before
            return DENIED
        return OK
    query, field = SERVICE_MUTATIONS[operation]
    variables = {"environment": to_base64("ServingEnvironment", environment.pk),
                 "version": gid(world.model_version), "id": service_id}
    result = client(query, variables).data["result"]
    if result["__typename"] != "OperationInfo":
        return OK
    assert result["messages"] == [{"kind": "VALIDATION", "code": "not_found", "field": field,
                                   "message": "Not found."}]
    assert _services_state() == before
    return NF


@pytest.mark.django_db
@pytest.mark.parametrize("operation", DEPLOYMENT_OPERATIONS)
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("visibility", [Visibility.PRIVATE, Visibility.PUBLIC])
def test_deployments_permission_matrix(visibility, caller, operation):
    world, environment, service = _deployment_world(visibility)

    outcome = _deployment_outcome(world, environment, service, caller, operation)

    assert outcome == DEPLOYMENTS_EXPECTED[visibility][caller][
        DEPLOYMENT_OPERATIONS.index(operation)]


# `auditLog(objectId:)` of the subject model, for an entry recorded about it: shown to whoever
# may see the model, never to anonymous callers (the trail names people) nor across tenants.
AUDIT_LOG = ("query($o: ID!) { auditLog(objectId: $o, action: \"probe\") { totalCount "
             "edges { node { action } } } }")
AUDIT_HIDDEN = {"anonymous", "other_tenant"}
AUDIT_EXPECTED = {
    Visibility.PRIVATE: {caller: "hidden" if caller in AUDIT_HIDDEN or PRIVATE[caller][0] ==
                         "hidden" else "shown" for caller in CALLERS},
    Visibility.PUBLIC: {caller: "hidden" if caller in AUDIT_HIDDEN else "shown"
                        for caller in CALLERS},
}


@pytest.mark.django_db
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("visibility", [Visibility.PRIVATE, Visibility.PUBLIC])
def test_audit_log_matrix(visibility, caller):
    from audit import services as audit

    world = build_world(visibility)
    audit.record(action="probe", obj=world.model, system="matrix")

    data = world.graphql(caller)(AUDIT_LOG, {"o": gid(world.model)}).data["auditLog"]

    outcome = {1: "shown", 0: "hidden"}[data["totalCount"]]
    assert data["edges"] == ([{"node": {"action": "probe"}}] if outcome == "shown" else [])
    assert outcome == AUDIT_EXPECTED[visibility][caller]


# --- Cleanup ---------------------------------------------------------------------------------
# Tenant admins only, in their own tenant:
# - policy / update policy: `retentionPolicy` (null for others) and `updateRetentionPolicy`;
# - proposals: the subject tenant's proposal in `cleanupProposals`, and `node(id)` of it;
# - approve / exclude: `approveCleanupProposal` and `excludeCleanupItem` of it.
# A caller of the tenant who is not its admin is refused with permission_denied, anyone else
# (the other tenant's admin) with not_found; a refusal changes nothing.
CLEANUP_OPERATIONS = ["policy", "update_policy", "proposals", "approve", "exclude"]
_NOT_ADMIN = ("null", DENIED, "hidden", DENIED, DENIED)
CLEANUP_EXPECTED = {
    **{caller: _NOT_ADMIN for caller in CALLERS},
    "tenant_admin": ("shown", OK, "shown", OK, OK),
    "superuser": ("shown", OK, "shown", OK, OK),
    # Their own tenant's policy; the subject tenant's proposal is out of reach.
    "other_tenant": ("shown", OK, "hidden", NF, NF),
}
CLEANUP_MUTATIONS = {
    "update_policy": "mutation { result: updateRetentionPolicy(data: {enabled: true}) { "
                     "__typename " + OPERATION_INFO + " } }",
    "approve": "mutation($id: ID!) { result: approveCleanupProposal(data: {id: $id}) { "
               "__typename " + OPERATION_INFO + " } }",
    "exclude": "mutation($item: ID!) { result: excludeCleanupItem(id: $item) { __typename "
               + OPERATION_INFO + " } }",
}


def _cleanup_state() -> list[dict]:
    from cleanup.models import CleanupProposal, ExcludedVersion, ProposalItem, RetentionPolicy

    return [*(list(model.objects.order_by("pk").values()) for model in
              (CleanupProposal, ProposalItem, ExcludedVersion, RetentionPolicy)),
            catalog_state()]


def _cleanup_outcome(world, caller: str, operation: str) -> str:
    from cleanup.models import CleanupProposal, ProposalItem

    proposal = CleanupProposal.objects.create(tenant=world.tenant, dormant_days=180,
                                              keep_newest=3, item_count=1)
    item = ProposalItem.objects.create(
        proposal=proposal, dataset_version=world.dataset_version, label="subject 1.0.0",
        version_created_at=world.dataset_version.created_at, newer_versions=3)
    proposal_id = to_base64("CleanupProposal", proposal.pk)
    client = world.graphql(caller)
    if operation == "policy":
        policy = client("{ retentionPolicy { enabled } }").data["retentionPolicy"]
        return "null" if policy is None else "shown"
    if operation == "proposals":
        listed = client("{ cleanupProposals { totalCount edges { node { id } } } }").data
        node = client("query($id: ID!) { node(id: $id) { id } }", {"id": proposal_id}).data
        if listed["cleanupProposals"]["edges"] == [{"node": {"id": proposal_id}}]:
            assert node == {"node": {"id": proposal_id}}
            return "shown"
        assert listed["cleanupProposals"] == {"totalCount": 0, "edges": []}
        assert node == {"node": None}
        return "hidden"
    before = _cleanup_state()
    result = client(CLEANUP_MUTATIONS[operation], {
        "id": proposal_id, "item": to_base64("CleanupItem", item.pk)}).data["result"]
    if result["__typename"] != "OperationInfo":
        return OK
    assert _cleanup_state() == before
    codes = [message["code"] for message in result["messages"]]
    assert codes in ([DENIED], [NF]), codes
    return codes[0]


@pytest.mark.django_db
@pytest.mark.parametrize("operation", CLEANUP_OPERATIONS)
@pytest.mark.parametrize("caller", CALLERS)
def test_cleanup_permission_matrix(caller, operation):
    world = build_world(Visibility.PRIVATE)

    outcome = _cleanup_outcome(world, caller, operation)

    assert outcome == CLEANUP_EXPECTED[caller][CLEANUP_OPERATIONS.index(operation)]


# --- The trash ----------------------------------------------------------------------------
# A second version of the subject dataset, with a file, deleted (so trashed) by its owner:
# - trash: the version in the `trash` query (tenant admins only; `empty` for anyone else);
# - node / download: `node(id)` of the version and of its file, the file's download and the
#   version's archive: hidden from everyone, the owner and the admins included;
# - restore: `restoreDatasetVersion` (tenant admins only; NOT_FOUND, changing nothing, for
#   anyone else, as for a version that does not exist).
TRASH_OPERATIONS = ["trash", "node", "download", "restore"]
_NOT_ADMIN = ("empty", "null", "404", NF)
_TRASH_ADMIN = ("shown", "null", "404", OK)
TRASH_EXPECTED = {caller: _TRASH_ADMIN if caller in ("tenant_admin", "superuser")
                  else _NOT_ADMIN for caller in CALLERS}
TRASH = "{ trash { id } }"
RESTORE = ("mutation($id: ID!) { restoreDatasetVersion(id: $id) { __typename "
           "... on DatasetVersion { id } " + OPERATION_INFO + " } }")


def _trashed_version(world) -> tuple[DatasetVersion, ArtifactFile]:
    version = DatasetVersionFactory(dataset=world.dataset, version="0.9.0")
    artifact = artifact_file(version, path="old.zip", content=b"old images")
    registry_services.version_delete(actor=world.actor("owner"), version=version)
    return version, artifact


def _trash_outcome(world, caller, operation, version, artifact) -> str:
    client = world.graphql(caller)
    if operation == "trash":
        entries = client(TRASH).data["trash"]
        return {str([{"id": gid(version)}]): "shown", "[]": "empty"}[str(entries)]
    if operation == "node":
        found = client(NODES, {"ids": [gid(version), gid(artifact)]}).data["nodes"]
        return "null" if found == [None, None] else "found"
    if operation == "download":
        http, headers = world.http(caller), world.headers(caller)
        statuses = {http.head(file_download_url(artifact), headers=headers).status_code,
                    http.get(archive_url(version), headers=headers).status_code}
        assert len(statuses) == 1, statuses
        return str(statuses.pop())
    before = catalog_state()
    result = client(RESTORE, {"id": gid(version)})
    if result.data["restoreDatasetVersion"]["__typename"] != "OperationInfo":
        assert DatasetVersion.objects.get(pk=version.pk).trashed_at is None
        return OK
    assert catalog_state() == before
    missing = client(RESTORE, {"id": missing_gid(DatasetVersion)})
    assert (missing.status_code, missing.body) == (result.status_code, result.body)
    return NF


@pytest.mark.django_db
@pytest.mark.parametrize("operation", TRASH_OPERATIONS)
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("visibility", [Visibility.PRIVATE, Visibility.PUBLIC])
def test_trash_matrix(visibility, caller, operation):
    world = build_world(visibility)
    version, artifact = _trashed_version(world)

    outcome = _trash_outcome(world, caller, operation, version, artifact)

    assert outcome == TRASH_EXPECTED[caller][TRASH_OPERATIONS.index(operation)]
