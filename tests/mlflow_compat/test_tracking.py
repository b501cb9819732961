"""The flow most MLflow users run, with MLFLOW_TRACKING_URI pointing at us:
`with mlflow.start_run(): mlflow.pyfunc.log_model(..., registered_model_name=...)`. The
uploads are stored and scanned as any upload: a cloudpickled `python_model` fails
registration under the default scan policy, a models-from-code model is READY."""

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException

from mlflow_compat.models import LoggedModel, LoggedModelFile, Run
from registry.models import ArtifactFile, ModelVersion, ScanStatus

pytestmark = pytest.mark.django_db(transaction=True)

MODEL_CODE = '''\
import mlflow
from mlflow.pyfunc import PythonModel


class Doubler(PythonModel):
    def predict(self, context, model_input, params=None):
        return [value * 2 for value in model_input]


mlflow.models.set_model(Doubler())
'''


FINDINGS = (
    "python_model.pkl: flagged: high pickle.unknown_global at python_model.pkl@offset 57: "
    "imports tests.mlflow_compat.test_tracking.Doubler, which is not on the allowlist of "
    "plain-data globals, high pickle.unknown_global at python_model.pkl@offset 125: imports "
    "mlflow.models.signature._TypeHints, which is not on the allowlist of plain-data globals")


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [value * 2 for value in model_input]


def log_from_code(tmp_path):
    code = tmp_path / "model_code.py"
    code.write_text(MODEL_CODE)
    with mlflow.start_run() as run:
        mlflow.log_params({"alpha": "0.5"})
        info = mlflow.pyfunc.log_model(name="model", python_model=str(code),
                                       registered_model_name="doubler")
    return run, info


@pytest.mark.services
def test_models_from_code_loads_back_from_a_models_uri(tracking, tmp_path):
    """`load_model` downloads files in parallel: that needs a server with a database
    connection per thread (PostgreSQL), not SQLite's shared in-memory one."""
    log_from_code(tmp_path)
    assert mlflow.pyfunc.load_model("models:/doubler/1").predict([1, 2]) == [2, 4]


def test_models_from_code_is_ready_and_loads_back(tracking, tmp_path):
    run, info = log_from_code(tmp_path)
    assert info.registered_model_version == "1"
    version = ModelVersion.objects.get(model__name="doubler")
    assert version.version == "1.0.0"
    files = sorted(ArtifactFile.objects.filter(model_version=version)
                   .values_list("path", "scan_status"))
    assert files == [(path, ScanStatus.CLEAN) for path in (
        "MLmodel", "conda.yaml", "model_code.py", "python_env.yaml", "requirements.txt")]
    stored = Run.objects.get(run_id=run.info.run_id)
    assert stored.params == {"alpha": "0.5"}
    assert stored.status == "FINISHED"
    logged = LoggedModel.objects.get(model_id=info.model_id)
    assert logged.status == "LOGGED_MODEL_READY"
    assert sorted(logged.files.values_list("path", flat=True)) == [path for path, _ in files]
    client = mlflow.MlflowClient()
    assert client.get_model_version("doubler", "1").status == "READY"
    # One file at a time (see the test above and test_artifacts), then loaded from there.
    for path, _ in files:
        mlflow.artifacts.download_artifacts(artifact_uri=f"models:/doubler/1/{path}",
                                            dst_path=str(tmp_path / "out"))
    assert mlflow.pyfunc.load_model(str(tmp_path / "out")).predict([1, 2]) == [2, 4]


def test_a_cloudpickled_python_model_fails_registration(tracking):
    with mlflow.start_run(), pytest.raises(MlflowException) as raised:
        mlflow.pyfunc.log_model(name="model", python_model=Doubler(),
                                registered_model_name="pickled")
    version = mlflow.MlflowClient().get_model_version("pickled", "1")
    assert version.status == "FAILED_REGISTRATION"
    assert version.status_message == FINDINGS
    assert str(raised.value) == ("Model version creation failed for model name: pickled "
                                 f"version: 1 with status: FAILED_REGISTRATION and message: "
                                 f"{FINDINGS}")
    stored = ModelVersion.objects.get(model__name="pickled")
    assert (ArtifactFile.objects.get(model_version=stored, path="python_model.pkl").scan_status
            == ScanStatus.FLAGGED)


def _post(server, token, path, body, method="POST"):
    return requests.request(method, f"{server}/api/2.0/mlflow/{path}", json=body,
                            headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_other_tracking_endpoints_answer_endpoint_not_found(server, maintainer_token):
    response = _post(server, maintainer_token, "runs/log-metric", {"run_id": "x"})
    assert (response.status_code, response.json()) == (404, {
        "error_code": "ENDPOINT_NOT_FOUND",
        "message": "No API endpoint POST /api/2.0/mlflow/runs/log-metric."})


def test_uploads_go_only_to_a_logged_models_folder(server, maintainer_token):
    upload = requests.put(f"{server}/api/2.0/mlflow-artifacts/artifacts/model-versions/1/x",
                          data=b"x", headers={"Authorization": f"Bearer {maintainer_token}"},
                          timeout=30)
    assert (upload.status_code, upload.json()) == (400, {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "Artifacts are uploaded only to a run's or a logged model's folder "
                   "(<experiment>/<run_id>/artifacts/<path> or "
                   "<experiment>/models/<model_id>/artifacts/<path>)."})
    assert not LoggedModelFile.objects.exists()


def test_another_tenants_logged_model_is_missing_and_takes_no_upload(
        server, maintainer_token, stranger_token):
    experiment = _post(server, maintainer_token, "experiments/create", {"name": "e"}).json()
    created = _post(server, maintainer_token, "logged-models",
                    {"experiment_id": experiment["experiment_id"], "name": "model"}).json()
    model_id = created["model"]["info"]["model_id"]
    missing = {"error_code": "RESOURCE_DOES_NOT_EXIST",
               "message": f"Logged model with ID '{model_id}' not found."}
    response = requests.get(f"{server}/api/2.0/mlflow/logged-models/{model_id}",
                            headers={"Authorization": f"Bearer {stranger_token}"}, timeout=30)
    assert (response.status_code, response.json()) == (404, missing)
    folder = created["model"]["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    upload = requests.put(f"{server}/api/2.0/mlflow-artifacts/artifacts/{folder}/MLmodel",
                          data=b"flavors: {}\n", timeout=30,
                          headers={"Authorization": f"Bearer {stranger_token}"})
    assert (upload.status_code, upload.json()) == (404, missing)
    assert not LoggedModelFile.objects.exists()


def test_an_upload_past_the_quota_is_refused(server, maintainer_token, default_tenant):
    experiment = _post(server, maintainer_token, "experiments/create", {"name": "e"}).json()
    created = _post(server, maintainer_token, "logged-models",
                    {"experiment_id": experiment["experiment_id"], "name": "model"}).json()
    default_tenant.quota_bytes = 4
    default_tenant.save()
    folder = created["model"]["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/")
    upload = requests.put(f"{server}/api/2.0/mlflow-artifacts/artifacts/{folder}/MLmodel",
                          data=b"flavors: {}\n", timeout=30,
                          headers={"Authorization": f"Bearer {maintainer_token}"})
    assert upload.status_code == 400
    assert upload.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert upload.json()["message"].startswith("file: The tenant's quota of 4 bytes")
    assert not LoggedModelFile.objects.exists()
