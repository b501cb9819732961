"""Editing and deleting versions, their files and lineage: updateModelVersion,
updateDatasetVersion, deleteModelVersion, deleteDatasetVersion, deleteFile (GraphQL and admin).

Who may call them is in the permission and cross-tenant matrices; here, what they do."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from strawberry.relay import to_base64

from accounts.models import Tenant, User
from accounts.selectors import actor_for
from registry import services
from registry.models import (
    AccessLevel,
    ArtifactFile,
    Blob,
    DatasetVersion,
    LineageLink,
    ModelAlias,
    ModelVersion,
    ModelVersionMetadata,
    RegisteredModel,
    Visibility,
)
from tests.conftest import graphql_client_for
from tests.factories import (
    DatasetFactory,
    DatasetVersionFactory,
    ModelVersionFactory,
    RegisteredModelFactory,
    UserFactory,
    artifact_file,
)
from tests.registry.test_upload import stored_keys

pytestmark = pytest.mark.django_db

ERRORS = "... on OperationInfo { messages { code field message } }"
UPDATE_MODEL_VERSION = """mutation($data: UpdateModelVersionInput!) {
  updateModelVersion(data: $data) { __typename
    ... on ModelVersion { version description source metrics state precision checkpoints
      hardware { minMemoryMb accelerators } containerImages { registry repository digest }
      metadata { name value } datasetVersions { version } }
    """ + ERRORS + " } }"
UPDATE_DATASET_VERSION = """mutation($data: UpdateDatasetVersionInput!) {
  updateDatasetVersion(data: $data) { __typename
    ... on DatasetVersion { version description state metadata { name value } }
    """ + ERRORS + " } }"
DELETE = """mutation($id: ID!) { result: %s(id: $id) { __typename
  ... on Deletion { deletedId } """ + ERRORS + " } }"
DIGEST = "sha256:" + "ab" * 32


def gid(obj) -> str:
    return to_base64(type(obj).__name__, obj.pk)


@pytest.fixture
def model(default_tenant, maintainer):
    return RegisteredModelFactory(tenant=default_tenant, owner=maintainer, name="detector")


@pytest.fixture
def version(model):
    return ModelVersionFactory(model=model, version="1.0.0", description="first")


@pytest.fixture
def dataset_version(default_tenant, maintainer):
    dataset = DatasetFactory(tenant=default_tenant, owner=maintainer, name="images")
    return DatasetVersionFactory(dataset=dataset, version="1.0.0")


def _row(version: ModelVersion) -> dict:
    version.refresh_from_db()
    return {name: getattr(version, name) for name in
            ("version", "description", "source_uri", "metrics", "state", "precision",
             "hardware", "checkpoints", "container_images")}


# --- Updates ---------------------------------------------------------------------------------

def test_update_model_version_changes_the_given_fields_only(gql, version):
    ModelVersion.objects.filter(pk=version.pk).update(precision="FP32",
                                                      checkpoints=["s3://bucket/old.ckpt"])

    result = gql(UPDATE_MODEL_VERSION, {"data": {
        "id": gid(version), "description": "tuned", "source": "mlflow://runs/42",
        "metrics": {"mAP": 0.61}, "state": "ARCHIVED",
        "hardware": {"minMemoryMb": 4096, "accelerators": ["gpu"]},
        "containerImages": [{"registry": "ghcr.io", "repository": "acme/detector",
                             "digest": DIGEST}],
        "metadata": {"add": [{"name": "team", "value": "perception"}]},
    }})

    assert result.data["updateModelVersion"] == {
        "__typename": "ModelVersion", "version": "1.0.0", "description": "tuned",
        "source": "mlflow://runs/42", "metrics": {"mAP": 0.61}, "state": "ARCHIVED",
        "precision": "FP32", "checkpoints": ["s3://bucket/old.ckpt"],
        "hardware": {"minMemoryMb": 4096, "accelerators": ["gpu"]},
        "containerImages": [{"registry": "ghcr.io", "repository": "acme/detector",
                             "digest": DIGEST}],
        "metadata": [{"name": "team", "value": "perception"}], "datasetVersions": [],
    }
    assert _row(version) == {
        "version": "1.0.0", "description": "tuned", "source_uri": "mlflow://runs/42",
        "metrics": {"mAP": 0.61}, "state": "archived", "precision": "FP32",
        "hardware": {"min_memory_mb": 4096, "accelerators": ["gpu"]},
        "checkpoints": ["s3://bucket/old.ckpt"],
        "container_images": [{"registry": "ghcr.io", "repository": "acme/detector",
                              "digest": DIGEST}],
    }


def test_update_links_and_unlinks_lineage(gql, version, dataset_version):
    old = DatasetVersionFactory(dataset=dataset_version.dataset, version="0.9.0")
    version.dataset_versions.add(old)

    result = gql(UPDATE_MODEL_VERSION, {"data": {"id": gid(version), "datasetVersions": {
        "add": [gid(dataset_version)], "remove": [gid(old)]}}})

    assert result.data["updateModelVersion"]["datasetVersions"] == [{"version": "1.0.0"}]
    assert list(LineageLink.objects.values_list("model_version", "dataset_version", "role")) == [
        (version.pk, dataset_version.pk, "training")]


def test_linking_a_dataset_version_the_caller_cannot_see_is_not_found(gql, version,
                                                                      default_tenant):
    hidden = DatasetVersionFactory(dataset=DatasetFactory(
        tenant=default_tenant, owner=UserFactory(), visibility=Visibility.PRIVATE))
    before = _row(version)

    result = gql(UPDATE_MODEL_VERSION, {"data": {
        "id": gid(version), "description": "changed",
        "datasetVersions": {"add": [gid(hidden)]}}})

    assert result.data["updateModelVersion"] == {"__typename": "OperationInfo", "messages": [
        {"code": "not_found", "field": "datasetVersions", "message": "Not found."}]}
    assert _row(version) == before
    assert LineageLink.objects.count() == 0


@pytest.mark.parametrize(("data", "code", "field"), [
    ({"metrics": {"mAP": "high"}}, "invalid_metrics", "metrics"),
    ({"source": "ftp://example.com/run"}, "invalid_uri", "source"),
    ({"containerImages": [{"registry": "ghcr.io", "repository": "Acme",
                           "digest": "latest"}]}, "invalid_image", "containerImages"),
    ({"checkpoints": ["javascript:alert(1)"]}, "invalid_uri", "source"),
    ({"hardware": {"minMemoryMb": -1}}, "invalid_hardware", "hardware"),
    ({"metadata": {"add": [{"name": "bad name!", "value": "x"}]}}, "invalid_metadata",
     "metadata"),
])
def test_bad_input_is_refused_with_a_code_and_changes_nothing(gql, version, data, code, field):
    before = _row(version)

    result = gql(UPDATE_MODEL_VERSION, {"data": {"id": gid(version), "description": "changed",
                                                 **data}})

    messages = result.data["updateModelVersion"]["messages"]
    assert [(message["code"], message["field"]) for message in messages] == [(code, field)]
    assert _row(version) == before
    assert ModelVersionMetadata.objects.count() == 0


def test_only_what_a_maintainer_may_edit_is_an_input(gql):
    """The version string, the files' bytes, hashes and scan status are not editable."""
    query = """{ model: __type(name: "UpdateModelVersionInput") { inputFields { name } }
                 dataset: __type(name: "UpdateDatasetVersionInput") { inputFields { name } } }"""

    data = gql(query).data

    common = ["id", "description", "source", "metrics", "state", "metadata"]
    assert [field["name"] for field in data["model"]["inputFields"]] == [
        *common, "precision", "hardware", "checkpoints", "containerImages", "datasetVersions"]
    assert [field["name"] for field in data["dataset"]["inputFields"]] == common


def test_update_dataset_version(gql, dataset_version):
    result = gql(UPDATE_DATASET_VERSION, {"data": {
        "id": gid(dataset_version), "description": "relabelled", "state": "ARCHIVED",
        "metadata": {"add": [{"name": "labels", "value": "coco"}]}}})

    assert result.data["updateDatasetVersion"] == {
        "__typename": "DatasetVersion", "version": "1.0.0", "description": "relabelled",
        "state": "ARCHIVED", "metadata": [{"name": "labels", "value": "coco"}]}
    dataset_version.refresh_from_db()
    assert (dataset_version.description, dataset_version.state) == ("relabelled", "archived")


def test_a_model_version_id_is_not_a_dataset_version(gql, version):
    result = gql(UPDATE_DATASET_VERSION, {"data": {"id": gid(version), "description": "x"}})

    assert result.data["updateDatasetVersion"]["messages"] == [
        {"code": "not_found", "field": "id", "message": "Not found."}]


# --- Deletions -------------------------------------------------------------------------------

def test_deleting_a_version_deletes_its_files_and_the_bytes_no_other_file_shares(
        storage_backend, gql, model, version, dataset_version, django_capture_on_commit_callbacks):
    Tenant.objects.update(trash_enabled=False)  # deleted at once (see test_trash.py)
    newer = ModelVersionFactory(model=model, version="2.0.0")
    shared = artifact_file(newer, path="shared.bin", content=b"shared bytes")
    artifact_file(newer, path="own.bin", content=b"own bytes")
    kept = artifact_file(version, path="shared.bin", content=b"shared bytes")
    newer.dataset_versions.add(dataset_version)
    model.refresh_from_db()
    assert model.latest_version_id == newer.pk

    with django_capture_on_commit_callbacks(execute=True):
        result = gql(DELETE % "deleteModelVersion", {"id": gid(newer)})

    assert result.data["result"] == {"__typename": "Deletion", "deletedId": gid(newer)}
    assert list(ModelVersion.objects.values_list("version", flat=True)) == ["1.0.0"]
    assert list(ArtifactFile.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(Blob.objects.values_list("pk", flat=True)) == [shared.blob_id]
    assert stored_keys() == [kept.blob.storage_key]
    assert LineageLink.objects.count() == 0
    assert DatasetVersion.objects.filter(pk=dataset_version.pk).exists()
    model.refresh_from_db()
    assert model.latest_version_id == version.pk


def test_deleting_an_aliased_version_is_refused_until_the_alias_moves(gql, model, version):
    artifact_file(version)
    ModelAlias.objects.create(model=model, name="production", version=version)
    ModelAlias.objects.create(model=model, name="champion", version=version)
    keys = stored_keys()

    result = gql(DELETE % "deleteModelVersion", {"id": gid(version)})

    assert result.data["result"] == {"__typename": "OperationInfo", "messages": [{
        "code": "version_aliased", "field": "id",
        "message": "Aliases champion, production point at this version; move or remove "
                   "them first."}]}
    assert ModelVersion.objects.filter(pk=version.pk).exists()
    assert (ArtifactFile.objects.count(), ModelAlias.objects.count()) == (1, 2)
    assert stored_keys() == keys


def test_deleting_a_dataset_version_unlinks_the_model_versions_trained_on_it(
        gql, version, dataset_version, django_capture_on_commit_callbacks):
    Tenant.objects.update(trash_enabled=False)  # deleted at once (see test_trash.py)
    artifact_file(dataset_version, path="images.zip", content=b"images")
    version.dataset_versions.add(dataset_version)

    with django_capture_on_commit_callbacks(execute=True):
        result = gql(DELETE % "deleteDatasetVersion", {"id": gid(dataset_version)})

    assert result.data["result"] == {"__typename": "Deletion",
                                     "deletedId": gid(dataset_version)}
    assert DatasetVersion.objects.count() == 0
    assert (LineageLink.objects.count(), ArtifactFile.objects.count()) == (0, 0)
    assert (Blob.objects.count(), stored_keys()) == (0, [])
    assert ModelVersion.objects.filter(pk=version.pk).exists()


def test_delete_file_keeps_a_blob_another_file_shares_until_the_last_goes(
        storage_backend, gql, model, version, django_capture_on_commit_callbacks):
    Tenant.objects.update(trash_enabled=False)  # deleted at once (see test_trash.py)
    first = artifact_file(version, path="a.onnx", content=b"same bytes")
    second = artifact_file(ModelVersionFactory(model=model, version="2.0.0"), path="b.onnx",
                           content=b"same bytes")
    key = first.blob.storage_key

    with django_capture_on_commit_callbacks(execute=True):
        deleted_first = gql(DELETE % "deleteFile", {"id": gid(first)})
    kept = (list(ArtifactFile.objects.values_list("pk", flat=True)), Blob.objects.count(),
            stored_keys())
    with django_capture_on_commit_callbacks(execute=True):
        deleted_second = gql(DELETE % "deleteFile", {"id": gid(second)})

    assert deleted_first.data["result"] == {"__typename": "Deletion", "deletedId": gid(first)}
    assert deleted_second.data["result"] == {"__typename": "Deletion",
                                             "deletedId": gid(second)}
    assert kept == ([second.pk], 1, [key])
    assert (ArtifactFile.objects.count(), Blob.objects.count(), stored_keys()) == (0, 0, [])


def test_a_change_grantee_edits_a_version_but_may_not_delete_it_or_its_files(
        member_factory, version):
    grantee = member_factory()
    services.catalog_entry_share(
        entry_class=RegisteredModel, actor=actor_for(user=version.model.owner,
                                                     tenant=version.model.tenant),
        entry_id=version.model_id, level=AccessLevel.CHANGE, user_ids=[grantee.pk])
    artifact = artifact_file(version)
    client = graphql_client_for(grantee)

    updated = client(UPDATE_MODEL_VERSION, {"data": {"id": gid(version), "description": "x"}})
    deleted_file = client(DELETE % "deleteFile", {"id": gid(artifact)})
    deleted_version = client(DELETE % "deleteModelVersion", {"id": gid(version)})

    assert updated.data["updateModelVersion"]["description"] == "x"
    not_found = {"__typename": "OperationInfo", "messages": [
        {"code": "not_found", "field": "id", "message": "Not found."}]}
    assert (deleted_file.data["result"], deleted_version.data["result"]) == (not_found,
                                                                             not_found)
    assert (ModelVersion.objects.count(), ArtifactFile.objects.count()) == (1, 1)


def test_a_version_deleted_while_the_call_waited_for_its_lock_is_not_found(maintainer,
                                                                           version):
    stale = ModelVersion.objects.get(pk=version.pk)
    ModelVersion.objects.filter(pk=version.pk).delete()
    actor = actor_for(user=maintainer, tenant=version.model.tenant)

    with pytest.raises(ValidationError) as raised:
        services.version_update(actor=actor, version=stale, description="changed")

    assert raised.value.message_dict == {"versionId": ["Not found."]}
    assert ModelVersion.objects.count() == 0


# --- The admin deletes through the same services ---------------------------------------------

@pytest.fixture
def admin_client(client, default_tenant):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-123456"))
    return client


def test_the_admin_refuses_to_delete_an_aliased_version(admin_client, model, version):
    ModelAlias.objects.create(model=model, name="production", version=version)
    url = reverse("admin:registry_modelversion_delete", args=[version.pk])

    page = admin_client.get(url).content.decode()
    admin_client.post(url, {"post": "yes"})

    assert "Model alias: production" in page
    assert ModelVersion.objects.filter(pk=version.pk).exists()


def test_the_admin_deletes_versions_and_files_releasing_their_bytes(
        admin_client, model, version, django_capture_on_commit_callbacks):
    Tenant.objects.update(trash_enabled=False)  # deleted at once (see test_trash.py)
    newer = ModelVersionFactory(model=model, version="2.0.0")
    artifact_file(newer, path="own.bin", content=b"own bytes")
    artifact = artifact_file(version, path="a.bin", content=b"other bytes")

    with django_capture_on_commit_callbacks(execute=True):
        version_deleted = admin_client.post(
            reverse("admin:registry_modelversion_delete", args=[newer.pk]), {"post": "yes"})
        file_deleted = admin_client.post(
            reverse("admin:registry_artifactfile_delete", args=[artifact.pk]), {"post": "yes"})

    assert (version_deleted.status_code, file_deleted.status_code) == (302, 302)
    assert list(ModelVersion.objects.values_list("version", flat=True)) == ["1.0.0"]
    assert (ArtifactFile.objects.count(), Blob.objects.count(), stored_keys()) == (0, 0, [])
    model.refresh_from_db()
    assert model.latest_version_id == version.pk
