"""Model versions through the real MlflowClient: numbering, CRUD, tags, search, and the
registration status that follows the scans of the version's files."""

import pickle

import mlflow
import pytest
from mlflow.exceptions import MlflowException, RestException

from accounts.models import User
from accounts.selectors import actor_for
from registry import services
from registry.models import ArtifactFile, ModelVersion, ModelVersionMetadata, ScanStatus

pytestmark = pytest.mark.django_db(transaction=True)


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(RestException) as raised:
        call(*args, **kwargs)
    return raised.value.error_code


def test_create_numbers_versions_after_the_highest_major(client, maintainer_token):
    client.create_registered_model("detector")
    first = client.create_model_version("detector", "s3://bucket/v1", run_id="run-1",
                                        tags={"framework": "onnx"}, description="first")
    assert (first.name, first.version, first.source, first.run_id, first.status,
            first.status_message, first.tags, first.description, first.current_stage) == (
        "detector", "1", "s3://bucket/v1", "run-1", "READY", "", {"framework": "onnx"}, "first",
        "None")
    row = ModelVersion.objects.get(model__name="detector")
    assert (row.version, row.source_uri, row.description, row.created_by.username) == (
        "1.0.0", "s3://bucket/v1", "first", "ada")
    assert dict(ModelVersionMetadata.objects.filter(owner=row)
                .values_list("key__name", "value")) == {
        "framework": "onnx", "registry.mlflow.run_id": "run-1"}
    # A version pushed through GraphQL with another semantic version is not an MLflow
    # version, and the next MLflow version comes after its major.
    services.version_create(version_class=ModelVersion,
                            actor=actor_for(user=User.objects.get(username="ada")),
                            parent_id=row.model_id, version="3.1.0")
    assert client.create_model_version("detector", "models:/m-123").version == "4"
    assert [v.version for v in client.search_model_versions("name = 'detector'")] == ["4", "1"]
    assert client.get_registered_model("detector").latest_versions[0].version == "4"
    assert error_code(client.get_model_version, "detector", "3") == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(client.create_model_version, "missing", "s3://b/x") == (
        "RESOURCE_DOES_NOT_EXIST")
    assert error_code(client.create_model_version, "detector", "/tmp/local") == (
        "INVALID_PARAMETER_VALUE")
    assert error_code(client.get_model_version, "detector", "one") == "INVALID_PARAMETER_VALUE"


def test_get_update_delete_and_tags(client, maintainer_token):
    client.create_registered_model("detector")
    client.create_model_version("detector", "s3://bucket/v1")
    client.create_model_version("detector", "s3://bucket/v2")
    assert client.update_model_version("detector", "1", description="baseline").description == (
        "baseline")
    client.set_model_version_tag("detector", "1", "validated", "yes")
    client.set_model_version_tag("detector", "1", "owner.team", "vision")
    client.delete_model_version_tag("detector", "1", "validated")
    version = client.get_model_version("detector", "1")
    assert (version.description, version.tags) == ("baseline", {"owner.team": "vision"})
    assert client.get_model_version_download_uri("detector", "1") == (
        f"mlflow-artifacts:/model-versions/{ModelVersion.objects.get(version='1.0.0').pk}")

    client.delete_model_version("detector", "2")
    # Deleted into the tenant's trash: kept, and hidden from every read path.
    assert list(ModelVersion.objects.filter(trashed_at__isnull=True)
                .values_list("version", flat=True)) == ["1.0.0"]
    assert client.get_registered_model("detector").latest_versions[0].version == "1"
    assert [v.version for v in client.get_latest_versions("detector")] == ["1"]
    assert client.get_latest_versions("detector", stages=["Production"]) == []
    assert error_code(client.delete_model_version, "detector", "2") == "RESOURCE_DOES_NOT_EXIST"
    # The number of a deleted version is not given again: it is in the trash, restorable.
    assert client.create_model_version("detector", "s3://bucket/v3").version == "3"


def test_search_model_versions(client, maintainer_token):
    for name in ("detector", "classifier"):
        client.create_registered_model(name)
    client.create_model_version("detector", "s3://bucket/d1", run_id="run-a")
    client.create_model_version("detector", "s3://bucket/d2", run_id="run-b",
                                tags={"env": "prod"})
    client.create_model_version("classifier", "s3://bucket/c1", run_id="run-a")

    def found(filter_string=None, **kwargs) -> list[tuple[str, str]]:
        return [(v.name, v.version) for v in client.search_model_versions(filter_string,
                                                                           **kwargs)]

    assert found() == [("classifier", "1"), ("detector", "2"), ("detector", "1")]
    assert found("run_id = 'run-a'") == [("classifier", "1"), ("detector", "1")]
    assert found("run_id IN ('run-b', 'run-x')") == [("detector", "2")]
    assert found("name = 'detector' AND version_number = 1") == [("detector", "1")]
    assert found("tags.env = 'prod'") == [("detector", "2")]
    assert found("source_path LIKE 's3://bucket/d%'") == [("detector", "2"), ("detector", "1")]
    assert found("name ILIKE 'DET%'", order_by=["version_number ASC"]) == [
        ("detector", "1"), ("detector", "2")]
    page = client.search_model_versions(max_results=2)
    assert [(v.name, v.version) for v in page] == [("classifier", "1"), ("detector", "2")]
    rest = client.search_model_versions(max_results=2, page_token=page.token)
    assert [(v.name, v.version) for v in rest] == [("detector", "1")]
    assert error_code(client.search_model_versions, "stage = 'Production'") == (
        "INVALID_PARAMETER_VALUE")


@pytest.fixture
def ada(maintainer_token):
    return User.objects.get(username="ada")


def test_status_follows_the_scans(client, ada, add_file):
    client.create_registered_model("detector")
    client.create_model_version("detector", "s3://bucket/v1")
    add_file(ada, "detector", 1, "model.onnx", b"\x08\x07onnx-bytes")
    clean = client.get_model_version("detector", "1")
    assert (clean.status, clean.status_message) == ("READY", "")

    ArtifactFile.objects.update(scan_status=ScanStatus.PENDING)
    pending = client.get_model_version("detector", "1")
    assert (pending.status, pending.status_message) == (
        "PENDING_REGISTRATION", "Waiting for the files' malware scans.")

    client.create_model_version("detector", "s3://bucket/v2")
    add_file(ada, "detector", 2, "model.pkl", pickle.dumps(print))
    flagged = client.get_model_version("detector", "2")
    assert flagged.status == "FAILED_REGISTRATION"
    assert flagged.status_message.startswith("model.pkl: flagged: ")
    assert "builtins.print" in flagged.status_message
    assert {v.version: v.status for v in client.search_model_versions("name = 'detector'")} == {
        "1": "PENDING_REGISTRATION", "2": "FAILED_REGISTRATION"}


def test_register_model_waits_and_raises_on_a_flagged_model(server, ada, add_file, monkeypatch):
    mlflow.set_tracking_uri(server)
    mlflow.set_registry_uri(server)
    version = mlflow.register_model("s3://bucket/clean", "detector")
    assert (version.name, version.version, version.status) == ("detector", "1", "READY")
    # A version with a flagged file: what the client's wait sees after creation.
    add_file(ada, "detector", 1, "model.pkl", pickle.dumps(print))
    store = mlflow.MlflowClient()._get_registry_client().store
    with pytest.raises(MlflowException) as raised:
        store._await_model_version_creation(store.get_model_version("detector", "1"), 5)
    assert "status: FAILED_REGISTRATION" in raised.value.message
    assert "builtins.print" in raised.value.message


def test_deleting_a_version_an_alias_points_at_is_refused(client, maintainer_token):
    client.create_registered_model("aliased")
    client.create_model_version("aliased", "s3://bucket/v1")
    client.set_registered_model_alias("aliased", "production", "1")

    assert error_code(client.delete_model_version, "aliased", "1") == "INVALID_PARAMETER_VALUE"
    assert ModelVersion.objects.filter(model__name="aliased", version="1.0.0").exists()

    client.delete_registered_model_alias("aliased", "production")
    client.delete_model_version("aliased", "1")
    assert not ModelVersion.objects.filter(model__name="aliased",
                                           trashed_at__isnull=True).exists()
