"""Every mutation that touches a model or dataset, its versions or its files, refused alike.

Two kinds of refusal: the caller cannot see the object (a viewer of a private one, anonymous,
a member of another tenant), or sees it but may not change it (VIEW grantees, viewers of a
public one). Each answers `not_found` (`permission_denied` where the caller's role may never
do it), changes nothing (rows, grants, blobs, uploads), and is exactly the answer for an id
that does not exist.
"""

import pytest

from registry import models
from tests.registry.permissions_world import build_world, catalog_state, gid, missing_gid

OPERATION_INFO = "... on OperationInfo { messages { kind code field message } }"


def _mutation(signature: str, call: str) -> str:
    return f"mutation({signature}) {{ result: {call} {{ __typename {OPERATION_INFO} }} }}"


# name: (query, the object the target id names, extra variables)
MUTATIONS = {
    "updateModel": (_mutation("$target: ID!", 'updateModel(data: {id: $target, '
                              'description: "changed"})'), "model", {}),
    "deleteModel": (_mutation("$target: ID!", "deleteModel(id: $target)"), "model", {}),
    "updateDataset": (_mutation("$target: ID!", 'updateDataset(data: {id: $target, '
                                'description: "changed"})'), "dataset", {}),
    "deleteDataset": (_mutation("$target: ID!", "deleteDataset(id: $target)"), "dataset", {}),
    "createModelVersion": (_mutation("$target: ID!", 'createModelVersion(data: '
                                     '{modelId: $target, version: "9.9.9"})'), "model", {}),
    "createDatasetVersion": (_mutation("$target: ID!", 'createDatasetVersion(data: '
                                       '{datasetId: $target, version: "9.9.9"})'),
                             "dataset", {}),
    "setVersionState": (_mutation("$target: ID!", "setVersionState(data: "
                                  "{versionId: $target, state: ARCHIVED})"),
                        "model_version", {}),
    "updateModelVersion": (_mutation("$target: ID!", 'updateModelVersion(data: {id: $target, '
                                     'description: "changed"})'), "model_version", {}),
    "updateModelVersion/link": (_mutation("$target: ID!, $link: ID!", "updateModelVersion("
                                          "data: {id: $target, datasetVersions: "
                                          "{add: [$link]}})"),
                                "model_version", {"link": "dataset_version"}),
    "updateModelVersion/unlink": (_mutation("$target: ID!, $link: ID!", "updateModelVersion("
                                            "data: {id: $target, datasetVersions: "
                                            "{remove: [$link]}})"),
                                  "model_version", {"link": "public_dataset_version"}),
    "updateDatasetVersion": (_mutation("$target: ID!", 'updateDatasetVersion(data: '
                                       '{id: $target, description: "changed"})'),
                             "dataset_version", {}),
    "deleteModelVersion": (_mutation("$target: ID!", "deleteModelVersion(id: $target)"),
                           "model_version", {}),
    "deleteDatasetVersion": (_mutation("$target: ID!", "deleteDatasetVersion(id: $target)"),
                             "dataset_version", {}),
    "deleteFile": (_mutation("$target: ID!", "deleteFile(id: $target)"), "file", {}),
    "setModelAlias": (_mutation("$target: ID!, $version: ID!", 'setModelAlias('
                                'modelId: $target, alias: "production", versionId: $version)'),
                      "model", {"version": "model_version"}),
    "removeModelAlias": (_mutation("$target: ID!", 'removeModelAlias(modelId: $target, '
                                   'alias: "champion")'), "model", {}),
    "shareObject": (_mutation("$target: ID!, $user: ID!", "shareObject(id: $target, "
                              "users: [$user], permission: MANAGE)"),
                    "model", {"user": "user:viewer"}),
    "unshareObject": (_mutation("$target: ID!, $user: ID!", "unshareObject(id: $target, "
                                "users: [$user])"), "model", {"user": "user:shared_user"}),
    "shareDataset": (_mutation("$target: ID!, $group: ID!", "shareObject(id: $target, "
                               "groups: [$group], permission: CHANGE)"),
                     "dataset", {"group": "group:readers"}),
    "startUpload": (_mutation("$target: ID!", 'startUpload(versionId: $target, '
                              'path: "weights.bin", size: 10, sha256: "' + "0" * 64
                              + '", partCount: 1)'), "model_version", {}),
    "rescanFile": (_mutation("$target: ID!", "rescan(fileId: $target)"), "file", {}),
    "rescanVersion": (_mutation("$target: ID!", "rescan(versionId: $target)"),
                      "model_version", {}),
    "releaseFile": (_mutation("$target: ID!", 'releaseFile(fileId: $target, '
                              'reason: "trust me")'), "file", {}),
}
UPLOAD_FILE = _mutation("$target: ID!, $file: Upload!",
                        'uploadFile(versionId: $target, path: "extra.onnx", file: $file)')

# Callers who cannot see the subject at all: every mutation above, and uploadFile.
CANNOT_SEE = [("private", "anonymous"), ("private", "viewer"), ("private", "maintainer"),
              ("private", "other_tenant"), ("public", "other_tenant")]
# Callers who see the subject but may not change it: the catalog's own mutations (rescan and
# release follow the scanning rules, tested with the scanning app).
CANNOT_CHANGE = [("private", "shared_user"), ("private", "group_member"),
                 ("public", "viewer"), ("public", "anonymous")]
CATALOG_MUTATIONS = [name for name in MUTATIONS
                     if name not in ("rescanFile", "rescanVersion", "releaseFile")]
# Only tenant admins release files: the role is refused before any object is looked up, so
# the answer cannot depend on the object either.
ROLE_REFUSALS = {("releaseFile", caller): "permission_denied"
                 for caller in ("anonymous", "viewer", "maintainer")}


def _value(world, reference: str) -> str:
    kind, _, name = reference.partition(":")
    if kind == "user":
        return gid(world.users[name])
    if kind == "group":
        return gid(world.groups[name])
    return gid(getattr(world, reference))


def _missing(world, target: str) -> str:
    return missing_gid(type(getattr(world, target)))


def _assert_refused_like_missing(world, caller: str, query: str, target: str,
                                 extra: dict, upload: bool = False,
                                 code: str = "not_found") -> None:
    client = world.graphql(caller)
    variables = {name: _value(world, reference) for name, reference in extra.items()}

    def send(target_id: str):
        if upload:
            return client.upload(query, {"target": target_id, "file": None},
                                 {"variables.file": ("extra.onnx", b"weights")})
        return client(query, {"target": target_id, **variables})

    before = catalog_state()
    refused = send(gid(getattr(world, target)))
    after = catalog_state()
    missing = send(_missing(world, target))

    payload = refused.body["data"]["result"]
    assert payload["__typename"] == "OperationInfo"
    assert [message["code"] for message in payload["messages"]] == [code]
    assert after == before
    assert (refused.status_code, refused.body) == (missing.status_code, missing.body)


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(MUTATIONS))
@pytest.mark.parametrize(("visibility", "caller"), CANNOT_SEE)
def test_mutation_on_an_invisible_object_is_not_found(visibility, caller, name):
    world = build_world(visibility)
    query, target, extra = MUTATIONS[name]

    _assert_refused_like_missing(world, caller, query, target, extra,
                                 code=ROLE_REFUSALS.get((name, caller), "not_found"))


@pytest.mark.django_db
@pytest.mark.parametrize("name", CATALOG_MUTATIONS)
@pytest.mark.parametrize(("visibility", "caller"), CANNOT_CHANGE)
def test_mutation_on_a_visible_object_without_rights_is_not_found(visibility, caller, name):
    world = build_world(visibility)
    query, target, extra = MUTATIONS[name]

    _assert_refused_like_missing(world, caller, query, target, extra)


@pytest.mark.django_db
@pytest.mark.parametrize(("visibility", "caller"), CANNOT_SEE + CANNOT_CHANGE)
def test_upload_file_without_rights_is_not_found(visibility, caller):
    world = build_world(visibility)

    _assert_refused_like_missing(world, caller, UPLOAD_FILE, "model_version", {},
                                 upload=True)


@pytest.mark.django_db
def test_change_grantee_edits_but_may_not_share_delete_or_publish():
    world = build_world(models.Visibility.PRIVATE)
    client = world.graphql("change_grantee")
    update = ("mutation($data: UpdateModelInput!) { updateModel(data: $data) { __typename "
              "... on RegisteredModel { description visibility } " + OPERATION_INFO + " } }")

    edited = client(update, {"data": {"id": gid(world.model), "description": "tuned"}})
    before = catalog_state()
    published = client(update, {"data": {"id": gid(world.model), "visibility": "PUBLIC"}})
    shared = client(update, {"data": {"id": gid(world.model),
                                      "users": {"add": [gid(world.users["viewer"])]}}})

    assert edited.data["updateModel"] == {"__typename": "RegisteredModel",
                                          "description": "tuned", "visibility": "PRIVATE"}
    not_found = {"__typename": "OperationInfo", "messages": [
        {"kind": "VALIDATION", "code": "not_found", "field": "id", "message": "Not found."}]}
    assert published.data["updateModel"] == not_found
    assert shared.data["updateModel"] == not_found
    assert catalog_state() == before


@pytest.mark.django_db
def test_versions_and_files_follow_their_model_for_a_change_grantee():
    world = build_world(models.Visibility.PRIVATE)
    client = world.graphql("change_grantee")

    version = client(MUTATIONS["createModelVersion"][0], {"target": gid(world.model)})
    alias = client(MUTATIONS["setModelAlias"][0], {"target": gid(world.model),
                                                   "version": gid(world.model_version)})
    uploaded = client.upload(UPLOAD_FILE, {"target": gid(world.model_version), "file": None},
                             {"variables.file": ("extra.onnx", b"weights")})

    assert version.data["result"] == {"__typename": "ModelVersion"}
    assert alias.data["result"] == {"__typename": "ModelAlias"}
    assert uploaded.data["result"] == {"__typename": "ArtifactFile"}
    assert sorted(world.model.versions.values_list("version", flat=True)) == ["1.0.0", "9.9.9"]
