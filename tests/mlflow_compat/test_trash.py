"""Through the MLflow API a trashed file or version is as missing as one never pushed."""

import pytest
import requests

from accounts.models import User
from accounts.selectors import actor_for
from registry import trash
from registry.models import ArtifactFile
from tests.mlflow_compat.test_artifacts import detector  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_trashed_files_and_versions_are_missing_to_mlflow(detector, client, server,  # noqa: F811
                                                          maintainer_token):
    auth = {"Authorization": f"Bearer {maintainer_token}"}
    root = f"{server}/api/2.0/mlflow-artifacts/artifacts/model-versions/{detector.pk}"
    actor = actor_for(user=User.objects.get(username="ada"), tenant=detector.model.tenant)
    trash.file_trash(actor=actor, artifact=ArtifactFile.objects.get(path="MLmodel"),
                     reason="old")

    listing = requests.get(f"{server}/api/2.0/mlflow-artifacts/artifacts",
                           params={"path": f"model-versions/{detector.pk}"}, headers=auth)
    trashed_file = requests.get(f"{root}/MLmodel", headers=auth)
    client.delete_registered_model_alias("detector", "champion")
    client.delete_model_version("detector", "1")
    version = requests.get(f"{server}/api/2.0/mlflow/model-versions/get",
                           params={"name": "detector", "version": "1"}, headers=auth)
    kept_file = requests.get(f"{root}/model/weights.onnx", headers=auth)

    assert listing.json() == {"files": [{"path": "model", "is_dir": True}]}
    assert (trashed_file.status_code, trashed_file.json()["error_code"]) == (
        404, "RESOURCE_DOES_NOT_EXIST")
    assert (version.status_code, version.json()["error_code"]) == (404,
                                                                   "RESOURCE_DOES_NOT_EXIST")
    assert (kept_file.status_code, kept_file.json()["error_code"]) == (
        404, "RESOURCE_DOES_NOT_EXIST")
    assert detector.__class__.objects.get(pk=detector.pk).trashed_at is not None
    assert client.search_model_versions("name='detector'") == []
