"""Who may do what to a model (and its dataset, versions and files): every caller × every
operation, for a private and for a public subject, each cell with its exact outcome.

Operations:
- list: the subject model and dataset in `models`/`datasets` (with an exact `totalCount`);
- node: `node(id)` of the model, the dataset, and the version, file and alias they own;
- nested: the subject as seen from public neighbours (`RegisteredModel.datasets`,
  `ModelVersion.datasetVersions`, `DatasetVersion.modelVersions`) — `no_access` when the
  neighbours themselves are out of reach;
- update / delete / share: `updateModel`, `deleteModel`, `shareObject`;
- download: the file (HEAD) and the version archive (GET).
A refused mutation leaves the database as it was and answers exactly what the same mutation
answers for an id that does not exist; a refused download is the 404 of a missing file.
"""

import pytest

from registry.models import (
    ArtifactFile,
    Dataset,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    Visibility,
)
from registry.urls_public import archive_url, file_download_url
from tests.registry.permissions_world import (
    CALLERS,
    build_world,
    catalog_state,
    gid,
    missing_gid,
)

OPERATIONS = ["list", "node", "nested", "update", "delete", "share", "download"]
OK, NF = "ok", "not_found"

# Columns:          list      node      nested     update delete share download
PRIVATE = {
    "anonymous":      ("hidden", "null", "hidden",    NF, NF, NF, "404"),
    "viewer":         ("hidden", "null", "hidden",    NF, NF, NF, "404"),
    "maintainer":     ("hidden", "null", "hidden",    NF, NF, NF, "404"),
    "owner":          ("shown", "found", "shown",     OK, OK, OK, "200"),
    "shared_user":    ("shown", "found", "shown",     NF, NF, NF, "200"),
    "group_member":   ("shown", "found", "shown",     NF, NF, NF, "200"),
    "change_grantee": ("shown", "found", "shown",     OK, NF, NF, "200"),
    "manage_grantee": ("shown", "found", "shown",     OK, OK, OK, "200"),
    "tenant_admin":   ("shown", "found", "shown",     OK, OK, OK, "200"),
    "other_tenant":   ("hidden", "null", "no_access", NF, NF, NF, "404"),
    "superuser":      ("shown", "found", "shown",     OK, OK, OK, "200"),
}
PUBLIC = {
    "anonymous":      ("shown", "found", "shown",     NF, NF, NF, "200"),
    "viewer":         ("shown", "found", "shown",     NF, NF, NF, "200"),
    "maintainer":     ("shown", "found", "shown",     NF, NF, NF, "200"),
    "owner":          ("shown", "found", "shown",     OK, OK, OK, "200"),
    "shared_user":    ("shown", "found", "shown",     NF, NF, NF, "200"),
    "group_member":   ("shown", "found", "shown",     NF, NF, NF, "200"),
    "change_grantee": ("shown", "found", "shown",     OK, NF, NF, "200"),
    "manage_grantee": ("shown", "found", "shown",     OK, OK, OK, "200"),
    "tenant_admin":   ("shown", "found", "shown",     OK, OK, OK, "200"),
    "other_tenant":   ("hidden", "null", "no_access", NF, NF, NF, "404"),
    "superuser":      ("shown", "found", "shown",     OK, OK, OK, "200"),
}
EXPECTED = {Visibility.PRIVATE: PRIVATE, Visibility.PUBLIC: PUBLIC}

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
MUTATIONS = {"update": UPDATE, "delete": DELETE, "share": SHARE}


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


def _mutation_variables(world, operation: str, model_id: str) -> dict:
    variables = {"id": model_id}
    if operation == "share":
        variables["user"] = gid(world.users["viewer"])
    return variables


def _outcome_mutation(world, caller, operation: str) -> str:
    client = world.graphql(caller)
    before = catalog_state()
    result = client(MUTATIONS[operation], _mutation_variables(world, operation,
                                                              gid(world.model)))
    payload = next(iter(result.data.values()))
    if payload["__typename"] != "OperationInfo":
        return OK
    assert payload["messages"] == [{"kind": "VALIDATION", "code": "not_found", "field": "id",
                                    "message": "Not found."}]
    # Refused: nothing changed, and the answer is the one for an object that never existed.
    assert catalog_state() == before
    missing = client(MUTATIONS[operation], _mutation_variables(
        world, operation, missing_gid(RegisteredModel)))
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
            "download": _outcome_download}[operation](world, caller)


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
    deleted = client(DELETE, {"id": gid(world.model)}).data["deleteModel"]

    assert updated == {"__typename": "RegisteredModel", "description": "changed"}
    assert shared == {"__typename": "Sharing", "grants": [
        {"permission": "CHANGE", "user": {"username": "change_grantee"}},
        {"permission": "VIEW", "user": {"username": "shared_user"}},
        {"permission": "VIEW", "user": {"username": "viewer"}},
        {"permission": "MANAGE", "user": None},
        {"permission": "VIEW", "user": None},
    ]}
    assert deleted == {"__typename": "Deletion", "deletedId": gid(world.model)}
    assert RegisteredModel.objects.filter(pk=world.model.pk).exists() is False
    assert Dataset.objects.filter(pk=world.dataset.pk).exists() is True
    assert DatasetVersion.objects.filter(pk=world.dataset_version.pk).exists() is True
