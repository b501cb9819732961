"""Run artifacts outside a logged model (`mlflow.log_artifact(s)`), registering a run folder
(`mlflow.register_model("runs:/<run_id>/<path>")`) and `search_experiments`, with the real
client against a live server. A run artifact's bytes are downloadable once they were
scanned as the file of a registered version that may be downloaded."""


from pathlib import Path

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException

from mlflow_compat.models import RunArtifact
from registry.models import ArtifactFile, ModelVersion, ScanStatus

pytestmark = pytest.mark.django_db(transaction=True)

MLMODEL = b"artifact_path: model\nflavors: {}\n"
# A pickle that would call os.system when loaded: the scanner flags it, nobody loads it.
MALICIOUS_PICKLE = b"cos\nsystem\n(S'echo hi'\ntR."
FLAGGED = ("model.pkl: flagged: critical pickle.dangerous_global at model.pkl@offset 0: "
           "imports os.system, which can run code, touch files or load other pickles")


def logged_run(tmp_path, files: dict[str, bytes]) -> str:
    folder = tmp_path / "model"
    for path, content in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(content)
    (tmp_path / "readme.md").write_bytes(b"# notes\n")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(folder), artifact_path="model")
        mlflow.log_artifact(str(tmp_path / "readme.md"))
    return run.info.run_id


def _get(server, token, path):
    return requests.get(f"{server}/api/2.0/mlflow-artifacts/artifacts/{path}", timeout=30,
                        headers={"Authorization": f"Bearer {token}"})


def test_run_artifacts_list_register_ready_and_download_back(
        tracking, server, maintainer_token, tmp_path):
    run_id = logged_run(tmp_path, {"MLmodel": MLMODEL, "notes.txt": b"hello\n",
                                   "data/values.json": b"[1, 2]\n"})
    client = mlflow.MlflowClient()
    assert [(info.path, info.is_dir, info.file_size) for info in client.list_artifacts(run_id)
            ] == [("model", True, None), ("readme.md", False, 8)]
    assert [(info.path, info.is_dir) for info in client.list_artifacts(run_id, "model")] == [
        ("model/MLmodel", False), ("model/data", True), ("model/notes.txt", False)]
    assert sorted(RunArtifact.objects.values_list("path", flat=True)) == [
        "model/MLmodel", "model/data/values.json", "model/notes.txt", "readme.md"]
    # Not scanned yet: listed, but its bytes stay in.
    unscanned = _get(server, maintainer_token, f"0/{run_id}/artifacts/model/notes.txt")
    assert (unscanned.status_code, unscanned.json()) == (404, {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": f"The artifact at '0/{run_id}/artifacts/model/notes.txt' is not scanned: "
                   "it is downloadable once registered as a model version's file that is "
                   "READY."})

    version = mlflow.register_model(f"runs:/{run_id}/model", "from-run")

    assert (version.version, version.status, version.source, version.run_id) == (
        "1", "READY", f"mlflow-artifacts:/0/{run_id}/artifacts/model", run_id)
    stored = ModelVersion.objects.get(model__name="from-run")
    assert sorted(ArtifactFile.objects.filter(model_version=stored)
                  .values_list("path", "scan_status")) == [
        ("MLmodel", ScanStatus.CLEAN), ("data/values.json", ScanStatus.CLEAN),
        ("notes.txt", ScanStatus.CLEAN)]
    downloaded = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="model/notes.txt", dst_path=str(tmp_path / "out"))
    assert Path(downloaded).read_bytes() == b"hello\n"
    from_version = mlflow.artifacts.download_artifacts(
        "models:/from-run/1/data/values.json", dst_path=str(tmp_path / "version"))
    assert Path(from_version).read_bytes() == b"[1, 2]\n"
    # The run's other artifact was never registered, so never scanned.
    assert _get(server, maintainer_token, f"0/{run_id}/artifacts/readme.md").status_code == 404


def test_a_flagged_run_folder_fails_registration_and_stays_in(
        tracking, server, maintainer_token, tmp_path):
    run_id = logged_run(tmp_path, {"MLmodel": MLMODEL, "model.pkl": MALICIOUS_PICKLE})

    with pytest.raises(MlflowException) as raised:
        mlflow.register_model(f"runs:/{run_id}/model", "flagged", await_registration_for=30)

    version = mlflow.MlflowClient().get_model_version("flagged", "1")
    assert (version.status, version.status_message) == ("FAILED_REGISTRATION", FLAGGED)
    assert str(raised.value) == ("Model version creation failed for model name: flagged "
                                 "version: 1 with status: FAILED_REGISTRATION and message: "
                                 f"{FLAGGED}")
    download = _get(server, maintainer_token, f"0/{run_id}/artifacts/model/model.pkl")
    assert (download.status_code, download.json()["error_code"]) == (
        404, "RESOURCE_DOES_NOT_EXIST")


def test_another_tenants_run_lists_nothing_and_takes_no_upload(
        tracking, server, maintainer_token, stranger_token, tmp_path):
    run_id = logged_run(tmp_path, {"MLmodel": MLMODEL})
    headers = {"Authorization": f"Bearer {stranger_token}"}
    listing = requests.get(f"{server}/api/2.0/mlflow-artifacts/artifacts", timeout=30,
                           params={"path": f"0/{run_id}/artifacts"}, headers=headers)
    assert (listing.status_code, listing.json()) == (200, {})
    upload = requests.put(f"{server}/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/x",
                          data=b"x", headers=headers, timeout=30)
    assert (upload.status_code, upload.json()) == (404, {
        "error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"Run with id={run_id} not found"})
    download = _get(server, stranger_token, f"0/{run_id}/artifacts/model/MLmodel")
    assert download.status_code == 404
    assert RunArtifact.objects.count() == 2


def test_search_experiments_by_name_in_pages(tracking, stranger_token, as_user):
    client = mlflow.MlflowClient()
    for name in ("alpha", "beta", "alpine"):
        client.create_experiment(name)

    found = client.search_experiments(filter_string="name LIKE 'alp%'")
    assert [experiment.name for experiment in found] == ["alpine", "alpha"]
    first = client.search_experiments(max_results=2, order_by=["name ASC"])
    assert [experiment.name for experiment in first] == ["Default", "alpha"]
    second = client.search_experiments(max_results=2, order_by=["name ASC"],
                                       page_token=first.token)
    assert ([experiment.name for experiment in second], second.token) == (
        ["alpine", "beta"], None)
    assert [experiment.name for experiment in client.search_experiments(
        filter_string="name = 'beta'")] == ["beta"]
    with pytest.raises(MlflowException) as raised:
        client.search_experiments(filter_string="tag.team = 'x'")
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    as_user(stranger_token)  # another tenant sees only its own
    assert [experiment.name for experiment in client.search_experiments()] == ["Default"]
