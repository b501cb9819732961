"""Alias history (aliasHistory, modelVersionAt), protected aliases (protectModelAlias) and
immutable versions (setModelVersionImmutable, setDatasetVersionImmutable).

Who may call them is in the permission and cross-tenant matrices; here, what they do."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from strawberry.relay import to_base64

from accounts.models import Role
from accounts.selectors import actor_for
from registry import services
from registry.models import (
    AccessLevel,
    ArtifactFile,
    ModelAlias,
    ModelAliasEvent,
    ModelVersion,
    RegisteredModel,
)
from tests.conftest import graphql_client_for
from tests.factories import (
    DatasetFactory,
    DatasetVersionFactory,
    ModelVersionFactory,
    RegisteredModelFactory,
    artifact_file,
)

pytestmark = pytest.mark.django_db

ERRORS = "... on OperationInfo { messages { kind code field message } }"
HISTORY = """query($model: ID!, $alias: String!, $first: Int, $after: String) {
  aliasHistory(modelId: $model, alias: $alias, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { alias action version { version } previousVersion { version } at
      actorName } } } }"""
AT = """query($model: ID!, $alias: String!, $at: DateTime!) {
  modelVersionAt(modelId: $model, alias: $alias, at: $at) { version } }"""
SET = """mutation($model: ID!, $version: ID!) {
  result: setModelAlias(modelId: $model, alias: "production", versionId: $version) {
    __typename ... on ModelAlias { name version { version } } """ + ERRORS + " } }"
REMOVE = """mutation($model: ID!) {
  result: removeModelAlias(modelId: $model, alias: "production") {
    __typename """ + ERRORS + " } }"
PROTECT = """mutation($model: ID!, $protected: Boolean!) {
  result: protectModelAlias(modelId: $model, alias: "production", protected: $protected) {
    __typename ... on ModelAlias { name protected } """ + ERRORS + " } }"
FREEZE_TEMPLATE = """mutation($id: ID!, $immutable: Boolean!) {
  result: set%sImmutable(id: $id, immutable: $immutable) {
    __typename ... on %s { immutable } """ + ERRORS + " } }"
FREEZE_MODEL_VERSION = FREEZE_TEMPLATE % ("ModelVersion", "ModelVersion")
FREEZE_DATASET_VERSION = FREEZE_TEMPLATE % ("DatasetVersion", "DatasetVersion")
T1 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 8, 9, 0, tzinfo=UTC)
T3 = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
IMMUTABLE = {"kind": "VALIDATION", "code": "version_immutable", "field": "id",
             "message": "The version is immutable: its files and content cannot change and "
                        "it cannot be deleted."}


def gid(obj) -> str:
    return to_base64(type(obj).__name__, obj.pk)


@pytest.fixture
def owner(member_factory):
    return member_factory(Role.MAINTAINER, username="owner")


@pytest.fixture
def admin(member_factory):
    return member_factory(Role.ADMIN, username="admin")


@pytest.fixture
def editor(member_factory, model, owner, default_tenant):
    """A member who may change the model (and so move its aliases) but not manage it."""
    user = member_factory(Role.MAINTAINER, username="editor")
    services.catalog_entry_share(entry_class=RegisteredModel,
                                 actor=actor_for(user=owner, tenant=default_tenant),
                                 entry_id=model.pk, level=AccessLevel.CHANGE,
                                 user_ids=[user.pk], group_ids=[])
    return user


@pytest.fixture
def model(default_tenant, owner):
    return RegisteredModelFactory(tenant=default_tenant, owner=owner, name="detector")


@pytest.fixture
def versions(model):
    return [ModelVersionFactory(model=model, version=f"{n}.0.0") for n in (1, 2, 3)]


def _move(user, model, version, when: datetime) -> dict:
    with time_machine.travel(when, tick=False):
        return graphql_client_for(user)(SET, {"model": gid(model),
                                              "version": gid(version)}).data["result"]


def _version_at(user, model, when: datetime) -> str | None:
    found = graphql_client_for(user)(AT, {"model": gid(model), "alias": "production",
                                          "at": when.isoformat()}).data["modelVersionAt"]
    return found and found["version"]


def _history(user, model, **page) -> dict:
    return graphql_client_for(user)(HISTORY, {"model": gid(model), "alias": "production",
                                              **page}).data["aliasHistory"]


def _row(action, version, previous, at, actor) -> dict:
    return {"node": {"alias": "production", "action": action,
                     "version": version and {"version": version},
                     "previousVersion": previous and {"version": previous},
                     "at": at.isoformat(), "actorName": actor}}


# --- History ---------------------------------------------------------------------------------

def test_three_moves_are_kept_newest_first_and_answer_which_version_held_the_alias(
        owner, admin, model, versions):
    _move(owner, model, versions[0], T1)
    _move(admin, model, versions[1], T2)
    _move(owner, model, versions[2], T3)

    assert _history(owner, model) == {
        "totalCount": 3,
        "pageInfo": {"hasNextPage": False, "endCursor": "YXJyYXljb25uZWN0aW9uOjI="},
        "edges": [_row("MOVED", "3.0.0", "2.0.0", T3, "owner"),
                  _row("MOVED", "2.0.0", "1.0.0", T2, "admin"),
                  _row("SET", "1.0.0", None, T1, "owner")]}
    assert [_version_at(owner, model, when) for when in
            (T1 - SECOND, T1, T1 + SECOND, T2 - SECOND, T2, (T2 + (T3 - T2) / 2), T3,
             T3 + timedelta(days=365))] == [
        None, "1.0.0", "1.0.0", "1.0.0", "2.0.0", "2.0.0", "3.0.0", "3.0.0"]


def test_history_pages_newest_first(owner, model, versions):
    for version, when in zip(versions, (T1, T2, T3), strict=True):
        _move(owner, model, version, when)

    first = _history(owner, model, first=2)
    rest = _history(owner, model, first=2, after=first["pageInfo"]["endCursor"])

    assert [edge["node"]["version"]["version"] for edge in first["edges"]] == ["3.0.0", "2.0.0"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [edge["node"]["version"]["version"] for edge in rest["edges"]] == ["1.0.0"]
    assert rest["pageInfo"]["hasNextPage"] is False


def test_removal_is_kept_and_nothing_holds_the_alias_after_it(owner, model, versions):
    _move(owner, model, versions[0], T1)
    with time_machine.travel(T2, tick=False):
        removed = graphql_client_for(owner)(REMOVE, {"model": gid(model)}).data["result"]

    assert removed == {"__typename": "RegisteredModel"}
    assert _history(owner, model)["edges"] == [_row("REMOVED", None, "1.0.0", T2, "owner"),
                                               _row("SET", "1.0.0", None, T1, "owner")]
    assert [_version_at(owner, model, when) for when in (T1, T2 - SECOND, T2, T3)] == [
        "1.0.0", "1.0.0", None, None]


def test_setting_the_version_an_alias_already_names_records_no_move(owner, model, versions):
    _move(owner, model, versions[0], T1)
    _move(owner, model, versions[0], T2)

    assert _history(owner, model)["edges"] == [_row("SET", "1.0.0", None, T1, "owner")]


def test_the_history_outlives_a_deleted_former_version(owner, model, versions):
    _move(owner, model, versions[0], T1)
    _move(owner, model, versions[1], T2)
    services.version_delete(actor=actor_for(user=owner, tenant=model.tenant),
                            version=versions[0])

    assert _history(owner, model)["edges"] == [_row("MOVED", "2.0.0", None, T2, "owner"),
                                               _row("SET", None, None, T1, "owner")]
    assert _version_at(owner, model, T1) is None


# --- Protected aliases -----------------------------------------------------------------------

def test_a_protected_alias_is_refused_to_a_member_and_moved_by_an_admin(
        owner, admin, editor, model, versions):
    _move(owner, model, versions[0], T1)
    protected = graphql_client_for(owner)(PROTECT, {"model": gid(model), "protected": True})
    before = list(ModelAliasEvent.objects.values())

    moved = _move(editor, model, versions[1], T2)
    removed = graphql_client_for(editor)(REMOVE, {"model": gid(model)}).data["result"]

    refusal = {"__typename": "OperationInfo", "messages": [{
        "kind": "PERMISSION", "code": "alias_protected", "field": None,
        "message": "The alias 'production' is protected; only those who manage the model "
                   "move it."}]}
    assert protected.data["result"] == {"__typename": "ModelAlias", "name": "production",
                                        "protected": True}
    assert moved == refusal
    assert removed == refusal
    assert ModelAlias.objects.get(model=model).version == versions[0]
    assert list(ModelAliasEvent.objects.values()) == before

    assert _move(admin, model, versions[1], T3) == {
        "__typename": "ModelAlias", "name": "production", "version": {"version": "2.0.0"}}
    assert ModelAlias.objects.get(model=model).protected is True


def test_only_those_who_manage_the_model_protect_or_unprotect_an_alias(
        owner, editor, model, versions):
    _move(owner, model, versions[0], T1)

    refused = graphql_client_for(editor)(PROTECT, {"model": gid(model), "protected": True})
    protected = graphql_client_for(owner)(PROTECT, {"model": gid(model), "protected": True})
    unprotected = graphql_client_for(owner)(PROTECT, {"model": gid(model), "protected": False})

    assert refused.data["result"] == {"__typename": "OperationInfo", "messages": [
        {"kind": "VALIDATION", "code": "not_found", "field": "id", "message": "Not found."}]}
    assert protected.data["result"]["protected"] is True
    assert unprotected.data["result"]["protected"] is False
    assert _move(editor, model, versions[1], T2)["__typename"] == "ModelAlias"


def test_protecting_a_missing_alias_is_not_found(owner, model):
    result = graphql_client_for(owner)(PROTECT, {"model": gid(model), "protected": True})

    assert result.data["result"]["messages"] == [
        {"kind": "VALIDATION", "code": "not_found", "field": "alias", "message": "Not found."}]


# --- Immutable versions ----------------------------------------------------------------------

UPLOAD = """mutation($v: ID!, $file: Upload!) {
  result: uploadFile(versionId: $v, path: "extra.bin", file: $file) { __typename
    """ + ERRORS + " } }"
START = """mutation($v: ID!) {
  result: startUpload(versionId: $v, path: "extra.bin", size: 10, sha256: "%s", partCount: 1) {
    __typename """ % ("0" * 64) + ERRORS + " } }"
UPDATE = """mutation($id: ID!, $description: String, $state: VersionState) {
  result: updateModelVersion(data: {id: $id, description: $description, state: $state}) {
    __typename ... on ModelVersion { description state } """ + ERRORS + " } }"
UPDATE_DATASET = """mutation($id: ID!) {
  result: updateDatasetVersion(data: {id: $id, description: "changed"}) { __typename
    """ + ERRORS + " } }"
DELETE = """mutation($id: ID!) { result: %s(id: $id) { __typename """ + ERRORS + " } }"


def _version_state(version) -> dict:
    version.refresh_from_db()
    return {"version": {name: getattr(version, name) for name in
                        ("description", "state", "immutable", "metrics")},
            "files": sorted(version.files.values_list("path", flat=True))}


def test_an_immutable_version_refuses_uploads_file_deletion_updates_and_deletion(
        storage_backend, owner, model, versions):
    version = versions[0]
    file = artifact_file(version)
    client = graphql_client_for(owner)
    frozen = client(FREEZE_MODEL_VERSION, {"id": gid(version), "immutable": True})
    before = _version_state(version)

    uploaded = client.upload(UPLOAD, {"v": gid(version), "file": None},
                             {"variables.file": ("extra.bin", b"more bytes")})
    started = client(START, {"v": gid(version)})
    updated = client(UPDATE, {"id": gid(version), "description": "changed"})
    file_deleted = client(DELETE % "deleteFile", {"id": gid(file)})
    deleted = client(DELETE % "deleteModelVersion", {"id": gid(version)})
    model_deleted = client(DELETE % "deleteModel", {"id": gid(model)})

    assert frozen.data["result"] == {"__typename": "ModelVersion", "immutable": True}
    refused = {"__typename": "OperationInfo", "messages": [IMMUTABLE]}
    assert started.data["result"] == uploaded.data["result"] == {
        "__typename": "OperationInfo", "messages": [{**IMMUTABLE, "field": "versionId"}]}
    assert updated.data["result"] == refused
    assert file_deleted.data["result"] == refused
    assert deleted.data["result"] == refused
    assert model_deleted.data["result"] == refused
    assert _version_state(version) == before
    assert ArtifactFile.objects.filter(pk=file.pk).exists() is True


def test_an_immutable_version_may_still_be_archived(owner, model, versions):
    version = versions[0]
    client = graphql_client_for(owner)
    client(FREEZE_MODEL_VERSION, {"id": gid(version), "immutable": True})

    archived = client(UPDATE, {"id": gid(version), "state": "ARCHIVED"})

    assert archived.data["result"] == {"__typename": "ModelVersion", "description": "",
                                       "state": "ARCHIVED"}


def test_an_immutable_dataset_version_refuses_updates(owner, default_tenant):
    dataset = DatasetFactory(tenant=default_tenant, owner=owner, name="images")
    version = DatasetVersionFactory(dataset=dataset, version="1.0.0")
    client = graphql_client_for(owner)

    frozen = client(FREEZE_DATASET_VERSION, {"id": gid(version),
                                                             "immutable": True})
    updated = client(UPDATE_DATASET, {"id": gid(version)})
    deleted = client(DELETE % "deleteDatasetVersion", {"id": gid(version)})

    assert frozen.data["result"] == {"__typename": "DatasetVersion", "immutable": True}
    assert updated.data["result"] == {"__typename": "OperationInfo", "messages": [IMMUTABLE]}
    assert deleted.data["result"] == {"__typename": "OperationInfo", "messages": [IMMUTABLE]}


def test_only_a_tenant_admin_makes_a_version_mutable_again(owner, admin, model, versions):
    version = versions[0]
    graphql_client_for(owner)(FREEZE_MODEL_VERSION,
                              {"id": gid(version), "immutable": True})

    by_owner = graphql_client_for(owner)(FREEZE_MODEL_VERSION,
                                         {"id": gid(version), "immutable": False})
    by_admin = graphql_client_for(admin)(FREEZE_MODEL_VERSION,
                                         {"id": gid(version), "immutable": False})

    assert by_owner.data["result"] == {"__typename": "OperationInfo", "messages": [{
        "kind": "PERMISSION", "code": "permission_denied", "field": None,
        "message": "Only tenant admins may do this."}]}
    assert by_admin.data["result"] == {"__typename": "ModelVersion", "immutable": False}
    assert ModelVersion.objects.get(pk=version.pk).immutable is False
