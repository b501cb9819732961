"""Bad input gets a coded error and changes nothing."""

import pytest
from django.core.exceptions import ValidationError
from strawberry.relay import to_base64

from accounts.models import Role
from registry.models import ArtifactFile, ModelVersion, RegisteredModel, Status, Tag
from registry.validators import parse_semver, validate_choice, validate_file_path
from tests.factories import ModelVersionFactory, RegisteredModelFactory, artifact_file
from tests.registry.test_catalog_api import CREATE_MODEL, CREATE_VERSION, UPDATE_MODEL, gid

ERRORS = "... on OperationInfo { messages { code field } }"


def model_snapshot():
    return sorted(RegisteredModel.objects.values_list("name", "description", "status"))


@pytest.mark.parametrize(("data", "code", "field"), [
    ({"name": ""}, "invalid_name", "name"),
    ({"name": "has space"}, "invalid_name", "name"),
    ({"name": "../etc"}, "invalid_name", "name"),
    ({"name": "x" * 201}, "invalid_name", "name"),
    ({"name": "ok", "license": "not a license!"}, "invalid_license", "license"),
    ({"name": "ok", "tags": [" padded"]}, "invalid_tag", "tags"),
    ({"name": "ok", "tags": ["x" * 101]}, "invalid_tag", "tags"),
    ({"name": "ok", "tags": [f"t{i}" for i in range(101)]}, "too_many_items", "tags"),
    ({"name": "ok", "metadata": [{"name": "k", "value": "v" * 1001}]}, "invalid_metadata",
     "metadata"),
    ({"name": "ok", "metadata": [{"name": "", "value": "v"}]}, "invalid_metadata", "metadata"),
    ({"name": "ok", "category": "c" * 201}, "invalid_metadata", "category"),
    ({"name": "ok", "users": [to_base64("User", 424242)]}, "not_found", "users"),
    ({"name": "ok", "datasets": [to_base64("Dataset", 424242)]}, "not_found", "datasets"),
    ({"name": "ok", "datasets": [to_base64("RegisteredModel", 1)]}, "not_found", "datasets"),
])
def test_create_model_rejects_bad_input(gql, data, code, field):
    result = gql(CREATE_MODEL, {"data": data})

    assert result.data["createModel"]["messages"] == [
        {"kind": "VALIDATION", "code": code, "field": field,
         "message": result.data["createModel"]["messages"][0]["message"]}]
    assert RegisteredModel.objects.count() == 0
    assert Tag.objects.count() == 0


def test_duplicate_name_is_a_coded_error_not_a_500(gql, maintainer, default_tenant):
    RegisteredModelFactory(tenant=default_tenant, owner=maintainer, name="taken")
    before = model_snapshot()

    result = gql(CREATE_MODEL, {"data": {"name": "taken", "tags": ["new-tag"]}})

    assert result.status_code == 200
    assert result.data["createModel"]["messages"][0]["code"] == "duplicate_name"
    assert result.data["createModel"]["messages"][0]["message"] == \
        "'taken' already exists in this tenant."
    assert model_snapshot() == before
    assert Tag.objects.count() == 0


def test_rename_onto_an_existing_name_is_refused(gql, maintainer, default_tenant):
    RegisteredModelFactory(tenant=default_tenant, owner=maintainer, name="a")
    b = RegisteredModelFactory(tenant=default_tenant, owner=maintainer, name="b")

    result = gql(UPDATE_MODEL, {"data": {"id": gid(b), "name": "a", "description": "x"}})

    assert result.data["updateModel"]["messages"][0]["code"] == "duplicate_name"
    assert model_snapshot() == [("a", "", "training"), ("b", "", "training")]


@pytest.mark.parametrize(("data", "code", "field"), [
    ({"version": "1.0"}, "invalid_version", "version"),
    ({"version": "v1.0.0"}, "invalid_version", "version"),
    ({"version": "01.0.0"}, "invalid_version", "version"),
    ({"version": "1.0.0", "source": "javascript:alert(1)"}, "invalid_uri", "source"),
    ({"version": "1.0.0", "source": "https://exa mple.com"}, "invalid_uri", "source"),
    ({"version": "1.0.0", "metrics": {"acc": "high"}}, "invalid_metrics", "metrics"),
    ({"version": "1.0.0", "metrics": {"acc": True}}, "invalid_metrics", "metrics"),
    ({"version": "1.0.0", "metrics": [1, 2]}, "invalid_metrics", "metrics"),
    ({"version": "1.0.0", "hardware": {"accelerators": ["quantum"]}}, "invalid_hardware",
     "hardware"),
    ({"version": "1.0.0", "hardware": {"minMemoryMb": -1}}, "invalid_hardware", "hardware"),
    ({"version": "1.0.0", "containerImages": [{"registry": "ghcr.io", "repository": "a/b",
                                               "digest": "latest"}]},
     "invalid_image", "containerImages"),
    ({"version": "1.0.0", "checkpoints": ["ftp://x"]}, "invalid_uri", "source"),
    ({"version": "1.0.0", "datasetVersions": [to_base64("DatasetVersion", 999)]},
     "not_found", "datasetVersions"),
])
def test_create_version_rejects_bad_input(gql, maintainer, default_tenant, data, code, field):
    model = RegisteredModelFactory(tenant=default_tenant, owner=maintainer)

    result = gql(CREATE_VERSION, {"data": {"modelId": gid(model), **data}})

    messages = result.data["createModelVersion"]["messages"]
    assert [(m["code"], m["field"]) for m in messages] == [(code, field)]
    assert ModelVersion.objects.count() == 0


def test_duplicate_version_is_refused(gql, maintainer, default_tenant):
    version = ModelVersionFactory(model__tenant=default_tenant, model__owner=maintainer,
                                  version="1.0.0")

    result = gql(CREATE_VERSION, {"data": {"modelId": gid(version.model), "version": "1.0.0"}})

    assert result.data["createModelVersion"]["messages"] == [
        {"code": "duplicate_version", "field": "version"}]
    assert ModelVersion.objects.count() == 1


def test_version_of_an_unknown_model_is_not_found(gql):
    result = gql(CREATE_VERSION, {"data": {"modelId": to_base64("RegisteredModel", 77),
                                           "version": "1.0.0"}})

    assert result.data["createModelVersion"]["messages"] == [{"code": "not_found",
                                                              "field": "id"}]


def test_malformed_global_id_is_not_found(gql):
    result = gql(UPDATE_MODEL, {"data": {"id": to_base64("RegisteredModel", "abc")}})

    assert result.data["updateModel"]["messages"] == [
        {"kind": "VALIDATION", "code": "not_found", "field": "id", "message": "Not found."}]


def test_viewer_may_not_create(gql_as, member_factory):
    viewer = member_factory(Role.VIEWER)

    result = gql_as(viewer)(CREATE_MODEL, {"data": {"name": "m"}})

    assert result.data["createModel"]["messages"] == [
        {"kind": "PERMISSION", "code": "permission_denied", "field": None,
         "message": "Your role in this tenant may not create objects."}]
    assert RegisteredModel.objects.count() == 0


UPLOAD = """mutation($v: ID!, $path: String!, $f: Upload!) {
  uploadFile(versionId: $v, path: $path, file: $f) {
    __typename ... on ArtifactFile { path size sha256 scanStatus }
    ... on OperationInfo { messages { code field } } } }"""


@pytest.mark.parametrize("path", [
    "/etc/passwd", "../escape", "a/../../b", "a//b", "./a", "a\\b", "a\x00b", "a\nb",
    "C:/windows", "x" * 1025, "", "a/" + "s" * 256,
])
def test_upload_rejects_unsafe_paths(gql, maintainer, default_tenant, path):
    version = ModelVersionFactory(model__tenant=default_tenant, model__owner=maintainer)

    result = gql.upload(UPLOAD, {"v": gid(version), "path": path, "f": None},
                        {"variables.f": ("f.bin", b"data")})

    assert result.data["uploadFile"]["messages"] == [{"code": "invalid_path", "field": "path"}]
    assert ArtifactFile.objects.count() == 0


def test_upload_duplicate_path_and_limits(gql, maintainer, default_tenant, settings):
    version = ModelVersionFactory(model__tenant=default_tenant, model__owner=maintainer)
    artifact_file(version, path="model.onnx")

    duplicate = gql.upload(UPLOAD, {"v": gid(version), "path": "model.onnx", "f": None},
                           {"variables.f": ("f.bin", b"other")})
    settings.REGISTRY_MAX_FILE_SIZE = 3
    too_large = gql.upload(UPLOAD, {"v": gid(version), "path": "big.bin", "f": None},
                           {"variables.f": ("f.bin", b"four")})
    settings.REGISTRY_MAX_FILE_SIZE = 1000
    default_tenant.quota_files = 1
    default_tenant.save()
    over_quota = gql.upload(UPLOAD, {"v": gid(version), "path": "second.bin", "f": None},
                            {"variables.f": ("f.bin", b"x")})

    assert duplicate.data["uploadFile"]["messages"] == [{"code": "duplicate_path",
                                                         "field": "path"}]
    assert too_large.data["uploadFile"]["messages"] == [{"code": "file_too_large",
                                                         "field": "file"}]
    assert over_quota.data["uploadFile"]["messages"] == [{"code": "quota_exceeded",
                                                          "field": "file"}]
    assert list(ArtifactFile.objects.values_list("path", flat=True)) == ["model.onnx"]


def test_upload_stores_exact_bytes_and_starts_quarantined(gql, maintainer, default_tenant,
                                                         client):
    version = ModelVersionFactory(model__tenant=default_tenant, model__owner=maintainer)
    content = bytes(range(256)) * 1000

    result = gql.upload(UPLOAD, {"v": gid(version), "path": "weights/model.bin", "f": None},
                        {"variables.f": ("model.bin", content)})

    import hashlib

    assert result.data["uploadFile"] == {
        "__typename": "ArtifactFile", "path": "weights/model.bin", "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(), "scanStatus": "PENDING"}


@pytest.mark.parametrize(("value", "expected"), [
    ("1.2.3", (1, 2, 3, "~")),
    ("1.0.0-alpha.1", (1, 0, 0, "1alpha.00000000001")),
    ("1.0.0+build.5", (1, 0, 0, "~")),
])
def test_parse_semver(value, expected):
    assert parse_semver(value) == expected


def test_validators_raise_coded_errors():
    with pytest.raises(ValidationError) as bad_status:
        validate_choice("shipped", Status, "status")
    with pytest.raises(ValidationError) as bad_path:
        validate_file_path("../x")

    assert bad_status.value.error_dict["status"][0].code == "invalid_choice"
    assert bad_path.value.error_dict["path"][0].code == "invalid_path"
