"""MLflow's tracking surface, as much as `mlflow.start_run()` + `mlflow.<flavor>.log_model(...,
registered_model_name=...)` calls in the pinned client: experiments, runs and MLflow 3 logged
models, per tenant. Anyone who may create objects in the tenant may track; params, metrics
and tags are stored as JSON. Artifacts of a logged model are uploaded to
`mlflow-artifacts:/<experiment>/models/<model_id>/artifacts/...`, those of a run to
`mlflow-artifacts:/<experiment>/<run_id>/artifacts/...` (artifact_upload)."""

import shutil
import tempfile
import time
import uuid

from django.db import transaction
from django.http import HttpRequest

from accounts.actor import Actor
from mlflow_compat import search, selectors
from mlflow_compat.errors import MlflowError, does_not_exist, invalid_parameter
from mlflow_compat.models import (
    DEFAULT_EXPERIMENT,
    Experiment,
    LoggedModel,
    LoggedModelFile,
    Run,
    RunArtifact,
)
from mlflow_compat.views import Params, _page, _required, _text, endpoint
from registry.services import quota_check, require_creator
from registry.storage.blobs import blob_store_stream
from registry.validators import validate_file_path

DEFAULT_EXPERIMENT_ID = selectors.DEFAULT_EXPERIMENT_ID
MODELS_FOLDER = "models"
UPLOAD_SPOOL_BYTES = 8 * 2**20


def _now() -> int:
    return int(time.time() * 1000)


def _pairs(params: Params, key: str) -> dict[str, str]:
    items = params.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise invalid_parameter(f"{key} must be a list of {{key, value}}.")
    return {_required(item, "key"): str(item.get("value", "")) for item in items}


# --- Experiments ---------------------------------------------------------------------------

def experiment_of(actor: Actor, experiment_id) -> Experiment:
    experiment_id = str(experiment_id or "")
    if experiment_id == DEFAULT_EXPERIMENT_ID:
        return Experiment.objects.get_or_create(tenant=actor.tenant, name=DEFAULT_EXPERIMENT)[0]
    experiment = (Experiment.objects.filter(tenant=actor.tenant, pk=int(experiment_id)).first()
                  if experiment_id.isascii() and experiment_id.isdigit() else None)
    if experiment is None:
        raise does_not_exist(f"No Experiment with id={experiment_id} exists")
    return experiment


def _experiment_json(experiment: Experiment) -> dict:
    experiment_id = selectors.experiment_id(experiment)
    created = int(experiment.created_at.timestamp() * 1000)
    return {"experiment_id": experiment_id, "name": experiment.name,
            "artifact_location": f"mlflow-artifacts:/{experiment_id}",
            "lifecycle_stage": "active", "creation_time": created, "last_update_time": created,
            "tags": [{"key": key, "value": value} for key, value in experiment.tags.items()]}


@endpoint("experiments/get", "GET")
def experiment_get(actor: Actor, params: Params) -> dict:
    return {"experiment": _experiment_json(experiment_of(actor, params.get("experiment_id")))}


@endpoint("experiments/get-by-name", "GET")
def experiment_get_by_name(actor: Actor, params: Params) -> dict:
    name = _required(params, "experiment_name")
    experiment = (Experiment.objects.get_or_create(tenant=actor.tenant, name=name)[0]
                  if name == DEFAULT_EXPERIMENT else
                  Experiment.objects.filter(tenant=actor.tenant, name=name).first())
    if experiment is None:
        raise does_not_exist(f"Could not find experiment with name '{name}'")
    return {"experiment": _experiment_json(experiment)}


@endpoint("experiments/create", "POST")
def experiment_create(actor: Actor, params: Params) -> dict:
    require_creator(actor)
    name = _required(params, "name")
    experiment, created = Experiment.objects.get_or_create(
        tenant=actor.tenant, name=name, defaults={"tags": _pairs(params, "tags")})
    if not created:
        raise MlflowError("RESOURCE_ALREADY_EXISTS", f"Experiment '{name}' already exists.")
    return {"experiment_id": selectors.experiment_id(experiment)}


EXPERIMENT_ORDER = {"name": "name", "creation_time": "created_at",
                    "last_update_time": "created_at", "experiment_id": "pk"}


@endpoint("experiments/search", "POST", "GET")
def experiment_search(actor: Actor, params: Params) -> dict:
    """The tenant's experiments (all active: none is deleted here), filtered by name (=, !=,
    LIKE, ILIKE), newest first unless `order_by` says otherwise, in pages."""
    Experiment.objects.get_or_create(tenant=actor.tenant, name=DEFAULT_EXPERIMENT)
    experiments = Experiment.objects.filter(tenant=actor.tenant)
    for clause in search.parse_filter(params.get("filter")):
        if clause.attribute != "name" or clause.operator == "IN":
            raise invalid_parameter(f"Invalid filter on {clause.key!r}: experiments are "
                                    "searched by name (=, !=, LIKE, ILIKE).")
        experiments = experiments.filter(
            search.value_condition("name", clause.operator, clause.value))
    order = search.order_fields(params.get("order_by") or ["creation_time DESC"],
                                EXPERIMENT_ORDER, ["pk"])
    rows, token = _page(experiments.order_by(*order), params, default=1000, limit=50_000)
    return {"experiments": [_experiment_json(experiment) for experiment in rows],
            **({"next_page_token": token} if token else {})}


# --- Runs ----------------------------------------------------------------------------------

def _run_json(run: Run) -> dict:
    experiment_id = selectors.experiment_id(run.experiment)
    pairs = lambda values: [{"key": key, "value": value} for key, value in values.items()]  # noqa: E731
    return {
        "info": {"run_id": run.run_id, "run_uuid": run.run_id, "run_name": run.name,
                 "experiment_id": experiment_id, "user_id": run.user.username if run.user else "",
                 "status": run.status, "start_time": run.start_time,
                 **({"end_time": run.end_time} if run.end_time else {}),
                 "artifact_uri": f"mlflow-artifacts:/{experiment_id}/{run.run_id}/artifacts",
                 "lifecycle_stage": "active"},
        "data": {"params": pairs(run.params), "tags": pairs(run.tags), "metrics": run.metrics},
        "inputs": {"dataset_inputs": run.inputs},
        "outputs": {"model_outputs": run.outputs},
    }


@endpoint("runs/create", "POST")
def run_create(actor: Actor, params: Params) -> dict:
    require_creator(actor)
    experiment = experiment_of(actor, params.get("experiment_id") or DEFAULT_EXPERIMENT_ID)
    run_id = uuid.uuid4().hex
    run = Run.objects.create(run_id=run_id, experiment=experiment, user=actor.user,
                             name=_text(params, "run_name") or run_id[:12],
                             start_time=params.get("start_time") or _now(),
                             tags=_pairs(params, "tags"))
    return {"run": _run_json(run)}


@endpoint("runs/get", "GET")
def run_get(actor: Actor, params: Params) -> dict:
    run_id = params.get("run_id") or params.get("run_uuid")
    return {"run": _run_json(selectors.run_of(actor, run_id))}


def _run_for_change(actor: Actor, params: Params) -> Run:
    require_creator(actor)
    run = selectors.run_of(actor, params.get("run_id") or params.get("run_uuid"))
    return (Run.objects.select_for_update(of=("self",)).select_related("experiment", "user")
            .get(pk=run.pk))


@endpoint("runs/update", "POST")
@transaction.atomic
def run_update(actor: Actor, params: Params) -> dict:
    run = _run_for_change(actor, params)
    run.status = _text(params, "status") or run.status
    run.end_time = params.get("end_time") or run.end_time
    run.name = _text(params, "run_name") or run.name
    run.save()
    return {"run_info": _run_json(run)["info"]}


@endpoint("runs/log-batch", "POST")
@transaction.atomic
def run_log_batch(actor: Actor, params: Params) -> dict:
    run = _run_for_change(actor, params)
    run.params.update(_pairs(params, "params"))
    run.tags.update(_pairs(params, "tags"))
    run.metrics.extend(params.get("metrics") or [])
    run.save()
    return {}


@endpoint("runs/set-tag", "POST")
@transaction.atomic
def run_set_tag(actor: Actor, params: Params) -> dict:
    run = _run_for_change(actor, params)
    run.tags[_required(params, "key")] = _text(params, "value")
    run.save()
    return {}


@endpoint("runs/log-inputs", "POST")
@transaction.atomic
def run_log_inputs(actor: Actor, params: Params) -> dict:
    run = _run_for_change(actor, params)
    run.inputs.extend(params.get("datasets") or [])
    run.save()
    return {}


@endpoint("runs/outputs", "POST")
@transaction.atomic
def run_log_outputs(actor: Actor, params: Params) -> dict:
    run = _run_for_change(actor, params)
    run.outputs.extend(params.get("models") or [])
    run.save()
    return {}


# --- Logged models -------------------------------------------------------------------------

def artifact_folder(model: LoggedModel) -> str:
    return f"{selectors.experiment_id(model.experiment)}/{MODELS_FOLDER}/{model.model_id}/artifacts"


def _logged_model_json(model: LoggedModel) -> dict:
    pairs = lambda values: [{"key": key, "value": value} for key, value in values.items()]  # noqa: E731
    return {"info": {"model_id": model.model_id, "name": model.name,
                     "experiment_id": selectors.experiment_id(model.experiment),
                     "artifact_uri": f"mlflow-artifacts:/{artifact_folder(model)}",
                     "status": model.status, "model_type": model.model_type,
                     "source_run_id": model.run.run_id if model.run else "",
                     "creation_timestamp_ms": model.created_at,
                     "last_updated_timestamp_ms": model.updated_at, "tags": pairs(model.tags)},
            "data": {"params": pairs(model.params)}}


@endpoint("logged-models", "POST")
def logged_model_create(actor: Actor, params: Params) -> dict:
    require_creator(actor)
    experiment = experiment_of(actor, params.get("experiment_id"))
    run_id = _text(params, "source_run_id")
    now = _now()
    model = LoggedModel.objects.create(
        model_id=f"m-{uuid.uuid4().hex}", experiment=experiment,
        run=selectors.run_of(actor, run_id) if run_id else None,
        name=_text(params, "name") or "model", model_type=_text(params, "model_type"),
        params=_pairs(params, "params"), tags=_pairs(params, "tags"),
        created_at=now, updated_at=now)
    return {"model": _logged_model_json(model)}


@endpoint("logged-models/{model_id}", "GET")
def logged_model_get(actor: Actor, params: Params) -> dict:
    return {"model": _logged_model_json(selectors.logged_model_of(actor, params.get("model_id")))}


def _logged_model_for_change(actor: Actor, params: Params) -> LoggedModel:
    require_creator(actor)
    model = selectors.logged_model_of(actor, params.get("model_id"))
    return (LoggedModel.objects.select_for_update(of=("self",)).select_related("experiment", "run")
            .get(pk=model.pk))


@endpoint("logged-models/{model_id}", "PATCH")
@transaction.atomic
def logged_model_finalize(actor: Actor, params: Params) -> dict:
    model = _logged_model_for_change(actor, params)
    status = _required(params, "status")
    if status not in ("LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"):
        raise invalid_parameter("status must be LOGGED_MODEL_READY or "
                                "LOGGED_MODEL_UPLOAD_FAILED.")
    model.status, model.updated_at = status, _now()
    model.save()
    return {"model": _logged_model_json(model)}


@endpoint("logged-models/{model_id}/tags", "PATCH")
@transaction.atomic
def logged_model_tags_set(actor: Actor, params: Params) -> dict:
    model = _logged_model_for_change(actor, params)
    model.tags.update(_pairs(params, "tags"))
    model.updated_at = _now()
    model.save()
    return {}


@endpoint("logged-models/{model_id}/params", "POST")
@transaction.atomic
def logged_model_params_log(actor: Actor, params: Params) -> dict:
    model = _logged_model_for_change(actor, params)
    model.params.update(_pairs(params, "params"))
    model.save()
    return {}


@endpoint("logged-models/search", "POST")
def logged_model_search(actor: Actor, params: Params) -> dict:
    """By experiment only (the flow searches no further), newest first."""
    experiments = [experiment_of(actor, value) for value in params.get("experiment_ids") or []]
    models = (LoggedModel.objects.select_related("experiment", "run")
              .filter(experiment__in=experiments).order_by("-created_at", "-pk"))
    return {"models": [_logged_model_json(model) for model in models[:1000]]}


# --- Uploads -------------------------------------------------------------------------------

def artifact_upload(actor: Actor, request: HttpRequest, path: str) -> None:
    """Stores the request body as `path` of the run or logged model the path names, in the
    registry's storage, within the tenant's quota; it is scanned once registered."""
    require_creator(actor)
    experiment_id, models, model_id, artifacts, *rest = (path.strip("/").split("/") + [""] * 4)
    if models == MODELS_FOLDER and artifacts == "artifacts":
        model = selectors.logged_model_of(actor, model_id)
        if selectors.experiment_id(model.experiment) != experiment_id:
            raise does_not_exist(f"Logged model with ID '{model_id}' not found.")
        owner, file_path = model, "/".join(rest).strip("/")
    else:
        folder = selectors.run_folder(actor, path)
        owner, file_path = folder if folder else (None, "")
    if not file_path:
        raise invalid_parameter("Artifacts are uploaded only to a run's or a logged model's "
                                "folder (<experiment>/<run_id>/artifacts/<path> or "
                                "<experiment>/models/<model_id>/artifacts/<path>).")
    validate_file_path(file_path)
    quota_check(tenant=actor.tenant, incoming_bytes=int(request.headers.get("Content-Length")
                                                         or 0))
    # Spooled to a seekable file first, as storage backends may read a stream twice (S3).
    with tempfile.SpooledTemporaryFile(max_size=UPLOAD_SPOOL_BYTES) as spool, \
            transaction.atomic():
        shutil.copyfileobj(request, spool, 2**20)
        spool.seek(0)
        blob = blob_store_stream(tenant=actor.tenant, stream=spool)
        if isinstance(owner, LoggedModel):
            LoggedModelFile.objects.update_or_create(logged_model=owner, path=file_path,
                                                     defaults={"blob": blob})
        else:
            RunArtifact.objects.update_or_create(run=owner, path=file_path,
                                                 defaults={"blob": blob})
