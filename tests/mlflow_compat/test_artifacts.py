"""Downloading a version's files with the MLflow client (`models:/` URIs resolved through
get-download-uri to the mlflow-artifacts proxy): clean versions only."""

import pickle

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from accounts.models import User
from registry.models import ArtifactFile, ModelVersion, ScanStatus
from usage.models import DailyUsage

pytestmark = pytest.mark.django_db(transaction=True)

FILES = {"MLmodel": b"flavors: {}\n", "model/weights.onnx": b"\x08\x07onnx",
         "model/config/labels.txt": b"person\ncar\n"}


@pytest.fixture
def detector(client, maintainer_token, add_file, server):
    mlflow.set_tracking_uri(server)
    mlflow.set_registry_uri(server)
    client.create_registered_model("detector")
    client.create_model_version("detector", "s3://bucket/v1")
    client.set_registered_model_alias("detector", "champion", "1")
    ada = User.objects.get(username="ada")
    for path, content in FILES.items():
        add_file(ada, "detector", 1, path, content)
    assert set(ArtifactFile.objects.values_list("scan_status", flat=True)) == {ScanStatus.CLEAN}
    return ModelVersion.objects.get(version="1.0.0")


def tree(root) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()}


COUNTED = [("MLmodel", 1), ("model/config/labels.txt", 1), ("model/weights.onnx", 1)]


def pulls_by_path() -> list[tuple[str, int]]:
    return sorted(DailyUsage.objects.filter(pulls__gt=0).values_list("file__path", "pulls"))


@pytest.mark.parametrize("uri", ["models:/detector/1", "models:/detector@champion"])
def test_a_clean_version_downloads_file_by_file(detector, uri, tmp_path):
    """Listed and fetched one file at a time: under SQLite the live server shares one
    in-memory connection between its threads, which parallel downloads would contend for."""
    repository = get_artifact_repository(uri)

    def files(folder=None) -> list[str]:
        found = []
        for entry in repository.list_artifacts(folder):
            found.extend(files(entry.path) if entry.is_dir else [entry.path])
        return found

    assert files() == ["MLmodel", "model/config/labels.txt", "model/weights.onnx"]
    for path in files():
        mlflow.artifacts.download_artifacts(artifact_uri=f"{uri}/{path}",
                                            dst_path=str(tmp_path / "out"))
    assert tree(tmp_path / "out") == FILES
    assert pulls_by_path() == COUNTED


@pytest.mark.services
def test_a_clean_version_downloads_whole(detector, tmp_path):
    """The client's own parallel download of the whole version (PostgreSQL)."""
    local = mlflow.artifacts.download_artifacts(artifact_uri="models:/detector@champion",
                                                dst_path=str(tmp_path / "out"))
    assert local.rstrip("/") == str(tmp_path / "out")
    assert tree(tmp_path / "out") == FILES
    assert pulls_by_path() == COUNTED


def test_listing_and_single_files(detector, server, maintainer_token):
    auth = {"Authorization": f"Bearer {maintainer_token}"}
    root = f"model-versions/{detector.pk}"
    listing = requests.get(f"{server}/api/2.0/mlflow-artifacts/artifacts",
                           params={"path": f"{root}/model"}, headers=auth)
    assert listing.json() == {"files": [{"path": "config", "is_dir": True},
                                        {"path": "weights.onnx", "is_dir": False,
                                         "file_size": 6}]}
    answer = requests.get(f"{server}/api/2.0/mlflow-artifacts/artifacts/{root}/MLmodel",
                          headers=auth)
    assert (answer.status_code, answer.content) == (200, FILES["MLmodel"])
    for missing in (f"{root}/nothing", f"{root}/model", f"{root}/model//weights.onnx",
                    "model-versions/999999/MLmodel", "elsewhere/MLmodel"):
        answer = requests.get(f"{server}/api/2.0/mlflow-artifacts/artifacts/{missing}",
                              headers=auth)
        assert (answer.status_code, answer.json()) == (404, {
            "error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"No artifact at '{missing}'."})


def test_a_quarantined_version_has_no_artifacts(detector, add_file, server, maintainer_token,
                                                tmp_path):
    add_file(User.objects.get(username="ada"), "detector", 1, "extra.pkl", pickle.dumps(print))
    assert ArtifactFile.objects.get(path="extra.pkl").scan_status == ScanStatus.FLAGGED
    auth = {"Authorization": f"Bearer {maintainer_token}"}
    listing = requests.get(f"{server}/api/2.0/mlflow-artifacts/artifacts",
                           params={"path": f"model-versions/{detector.pk}"}, headers=auth)
    assert listing.json() == {}
    answer = requests.get(
        f"{server}/api/2.0/mlflow-artifacts/artifacts/model-versions/{detector.pk}/MLmodel",
        headers=auth)
    assert (answer.status_code, answer.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    with pytest.raises(MlflowException) as raised:
        mlflow.artifacts.download_artifacts(artifact_uri="models:/detector/1/MLmodel",
                                            dst_path=str(tmp_path / "out"))
    assert "RESOURCE_DOES_NOT_EXIST" in str(raised.value)
    assert get_artifact_repository("models:/detector/1").list_artifacts("") == []
    assert not DailyUsage.objects.filter(pulls__gt=0).exists()
