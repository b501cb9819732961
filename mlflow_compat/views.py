"""The MLflow Model Registry REST API (`/api/2.0/mlflow/...`, and `/ajax-api/...` as MLflow's
UI calls it) and the `mlflow-artifacts` download proxy, over the registry's services.

Callers authenticate with our tokens as `Authorization: Bearer` (MLFLOW_TRACKING_TOKEN);
cookies are not read here, so no CSRF check is needed. The token's tenant applies, or the
tenant named by MLflow's workspace header when the caller is a member of it.
"""

import json
import posixpath
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from accounts.actor import Actor
from accounts.authentication import actor_from_request, anonymous_actor, bearer_token
from accounts.models import Tenant
from accounts.selectors import default_tenant, token_actor
from mlflow_compat import errors, search, selectors, serializers, services
from mlflow_compat.errors import MlflowError, does_not_exist, invalid_parameter
from registry import selectors as registry_selectors
from registry.models import ModelMetadata, ModelVersion, ModelVersionMetadata, RegisteredModel
from registry.views import file_response

# The header the MLflow client sends for the active workspace (mlflow.set_workspace or
# MLFLOW_WORKSPACE): mlflow.utils.workspace_utils.WORKSPACE_HEADER_NAME.
WORKSPACE_HEADER = "X-MLflow-Workspace"
ARTIFACT_ROOT = "model-versions"

Params = dict[str, Any]
Handler = Callable[[Actor, Params], dict]
ENDPOINTS: dict[tuple[str, str], Handler] = {}


def endpoint(path: str, *methods: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for method in methods:
            ENDPOINTS[(path, method)] = handler
        return handler
    return register


def caller(request: HttpRequest) -> Actor:
    # A bearer token's actor is the one the middleware resolved and cached on the request
    # (for its log context): resolving it again would repeat the token's queries.
    actor = (anonymous_actor(default_tenant()) if bearer_token(request) is None
             else actor_from_request(request))
    if actor.credentials_rejected:
        raise MlflowError(errors.UNAUTHENTICATED, "The bearer token is not valid.")
    workspace = request.headers.get(WORKSPACE_HEADER, "").strip()
    if workspace and (actor.tenant is None or workspace != actor.tenant.slug):
        tenant = Tenant.objects.filter(slug=workspace).first()
        # A tenant the caller is not a member of answers as one that does not exist.
        actor = (tenant and actor.user and
                 token_actor(user=actor.user, tenant=tenant, scopes=actor.scopes))
        if not actor:
            raise does_not_exist(f"Workspace '{workspace}' not found.")
    if actor.tenant is None:
        raise MlflowError(errors.UNAUTHENTICATED, "Send an API token as a bearer token.")
    return actor


def _params(request: HttpRequest) -> Params:
    """GET carries the request message as query parameters (repeated for lists), the
    other methods as a JSON body."""
    if request.method == "GET":
        return {key: values if key in ("order_by", "stages") else values[-1]
                for key, values in request.GET.lists()}
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise invalid_parameter("The request body is not JSON.") from error
    if not isinstance(body, dict):
        raise invalid_parameter("The request body must be a JSON object.")
    return body


def _guarded(respond: Callable[[], HttpResponse]) -> HttpResponse:
    try:
        return respond()
    except MlflowError as error:
        return errors.error_response(error)
    except ValidationError as error:
        return errors.error_response(errors.from_validation_error(error))
    except PermissionDenied as error:
        return errors.error_response(errors.from_permission_denied(error))


def _route(path: str) -> tuple[str, Params]:
    """`logged-models/<id>[/...]` is one endpoint whatever the id (MLflow 3 puts ids in
    paths)."""
    root, _, rest = path.partition("/")
    model_id, _, tail = rest.partition("/")
    if root == "logged-models" and model_id and model_id != "search":
        return "/".join(["logged-models/{model_id}", *([tail] if tail else [])]), {
            "model_id": model_id}
    return path, {}


@csrf_exempt
def api(request: HttpRequest, path: str) -> HttpResponse:
    route, path_params = _route(path)
    handler = ENDPOINTS.get((route, request.method))
    if handler is None:
        return not_found_endpoint(request)

    def respond() -> HttpResponse:
        actor = caller(request)
        if request.method != "GET" and actor.user is None:
            raise MlflowError(errors.UNAUTHENTICATED, "Send an API token as a bearer token.")
        return JsonResponse(handler(actor, {**_params(request), **path_params}))

    return _guarded(respond)


@csrf_exempt
def not_found_endpoint(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    return errors.error_response(MlflowError(
        errors.ENDPOINT_NOT_FOUND, f"No API endpoint {request.method} {request.path}."))


def server_info(request: HttpRequest) -> HttpResponse:
    """What the client probes before it sends a workspace header."""
    if request.method != "GET":
        return not_found_endpoint(request)
    return JsonResponse({"workspaces_enabled": True, "artifact_serving_enabled": True})


def _text(params: Params, key: str) -> str:
    value = params.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid_parameter(f"{key} must be a string.")
    return value


def _required(params: Params, key: str) -> str:
    value = _text(params, key)
    if not value:
        raise invalid_parameter(f"Missing value for required parameter '{key}'.")
    return value


def _tags(params: Params) -> dict[str, str]:
    tags = params.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, dict) for tag in tags):
        raise invalid_parameter("tags must be a list of {key, value}.")
    return {_required(tag, "key"): _text(tag, "value") for tag in tags}


# --- Registered models ---------------------------------------------------------------------

def _detailed_model_json(model: RegisteredModel) -> dict:
    """`model` as fetched with `selectors.models_with_details`."""
    return serializers.registered_model(model, selectors.latest_versions([model]).get(model.pk))


def _model_json(model: RegisteredModel) -> dict:
    return _detailed_model_json(
        selectors.models_with_details(RegisteredModel.objects.filter(pk=model.pk))[0])


@endpoint("registered-models/create", "POST")
def registered_model_create(actor: Actor, params: Params) -> dict:
    name = _required(params, "name")
    model = services.registered_model_create(actor=actor, name=name,
                                             description=_text(params, "description"),
                                             tags=_tags(params))
    return {"registered_model": _model_json(model)}


@endpoint("registered-models/get", "GET")
def registered_model_get(actor: Actor, params: Params) -> dict:
    model = selectors.model_by_name(actor, params.get("name"), details=True)
    return {"registered_model": _detailed_model_json(model)}


@endpoint("registered-models/rename", "POST")
def registered_model_rename(actor: Actor, params: Params) -> dict:
    model = selectors.model_by_name(actor, params.get("name"))
    model = services.registered_model_update(actor=actor, model=model,
                                             name=_required(params, "new_name"))
    return {"registered_model": _model_json(model)}


@endpoint("registered-models/update", "PATCH")
def registered_model_update(actor: Actor, params: Params) -> dict:
    model = selectors.model_by_name(actor, params.get("name"))
    if "description" in params:
        model = services.registered_model_update(actor=actor, model=model,
                                                 description=_text(params, "description"))
    return {"registered_model": _model_json(model)}


@endpoint("registered-models/delete", "DELETE")
def registered_model_delete(actor: Actor, params: Params) -> dict:
    services.registered_model_delete(actor=actor,
                                     model=selectors.model_by_name(actor, params.get("name")))
    return {}


@endpoint("registered-models/set-tag", "POST")
def registered_model_tag_set(actor: Actor, params: Params) -> dict:
    model = selectors.model_by_name(actor, params.get("name"))
    services.registered_model_update(actor=actor, model=model, metadata={
        _required(params, "key"): _text(params, "value")})
    return {}


@endpoint("registered-models/delete-tag", "DELETE")
def registered_model_tag_delete(actor: Actor, params: Params) -> dict:
    model = selectors.model_by_name(actor, params.get("name"))
    services.registered_model_update(actor=actor, model=model,
                                     metadata={_required(params, "key"): None})
    return {}


MODEL_ORDER = {"name": "name", "creation_timestamp": "created_at",
               "last_updated_timestamp": "updated_at", "timestamp": "updated_at"}


def _model_condition(clause: search.Clause):
    if clause.attribute is None:
        return search.tag_condition(ModelMetadata.objects.all(), clause)
    if clause.attribute != "name" or clause.operator == "IN":
        raise invalid_parameter(f"Invalid filter on {clause.key!r}: registered models are "
                                "searched by name (=, !=, LIKE, ILIKE) and tags.")
    return search.value_condition("name", clause.operator, clause.value)


def _page(queryset, params: Params, *, default: int, limit: int,
          fetch: Callable[[Any], list] = list) -> tuple[list, str]:
    """A page of `queryset`'s rows (read with `fetch`) and the next page's token."""
    size = search.max_results(params.get("max_results"), default=default, limit=limit)
    offset = search.page_offset(params.get("page_token"))
    rows = fetch(queryset[offset:offset + size + 1])
    token = search.page_token(offset + size) if len(rows) > size else ""
    return rows[:size], token


@endpoint("registered-models/search", "GET")
def registered_model_search(actor: Actor, params: Params) -> dict:
    queryset = registry_selectors.models_visible_to(actor)
    for clause in search.parse_filter(params.get("filter")):
        queryset = queryset.filter(_model_condition(clause))
    order = search.order_fields(params.get("order_by") or [], MODEL_ORDER, ["name", "pk"])
    models, token = _page(queryset.order_by(*order), params, default=100, limit=1000,
                          fetch=selectors.models_with_details)
    latest = selectors.latest_versions(models)
    return {"registered_models": [serializers.registered_model(model, latest.get(model.pk))
                                  for model in models],
            **({"next_page_token": token} if token else {})}


@endpoint("registered-models/get-latest-versions", "POST", "GET")
def latest_versions_get(actor: Actor, params: Params) -> dict:
    """Stages are deprecated in MLflow; every version here is in stage "None"."""
    model = selectors.model_by_name(actor, params.get("name"), details=True)
    stages = params.get("stages") or []
    latest = selectors.latest_versions([model]).get(model.pk)
    wanted = latest is not None and (not stages or "None" in stages)
    return {"model_versions": [serializers.model_version(latest)] if wanted else []}


@endpoint("registered-models/alias", "POST")
def alias_set(actor: Actor, params: Params) -> dict:
    version = selectors.version_of(actor, params.get("name"), params.get("version"))
    services.alias_set(actor=actor, model=version.model, alias=_required(params, "alias"),
                       version=version)
    return {}


@endpoint("registered-models/alias", "DELETE")
def alias_delete(actor: Actor, params: Params) -> dict:
    model = selectors.model_by_name(actor, params.get("name"))
    services.alias_delete(actor=actor, model=model, alias=_required(params, "alias"))
    return {}


@endpoint("registered-models/alias", "GET")
def alias_get(actor: Actor, params: Params) -> dict:
    version = selectors.version_by_alias(actor, params.get("name"), params.get("alias"))
    return {"model_version": serializers.model_version(version)}


# --- Model versions ------------------------------------------------------------------------

def _version_json(version: ModelVersion) -> dict:
    return serializers.model_version(
        selectors.version_with_details(ModelVersion.objects.filter(pk=version.pk)))


@endpoint("model-versions/create", "POST")
def model_version_create(actor: Actor, params: Params) -> dict:
    model = selectors.model_by_name(actor, params.get("name"))
    version = services.model_version_create(
        actor=actor, model=model, source=_text(params, "source"),
        run_id=_text(params, "run_id"), run_link=_text(params, "run_link"),
        description=_text(params, "description"), tags=_tags(params),
        files=selectors.tracked_files(actor, model_id=_text(params, "model_id"),
                                      source=_text(params, "source")))
    return {"model_version": _version_json(version)}


@endpoint("model-versions/get", "GET")
def model_version_get(actor: Actor, params: Params) -> dict:
    version = selectors.version_of(actor, params.get("name"), params.get("version"))
    return {"model_version": serializers.model_version(version)}


@endpoint("model-versions/update", "PATCH")
def model_version_update(actor: Actor, params: Params) -> dict:
    version = selectors.version_of(actor, params.get("name"), params.get("version"))
    description = _text(params, "description") if "description" in params else None
    version = services.model_version_update(actor=actor, version=version,
                                            description=description)
    return {"model_version": _version_json(version)}


@endpoint("model-versions/delete", "DELETE")
def model_version_delete(actor: Actor, params: Params) -> dict:
    version = selectors.version_of(actor, params.get("name"), params.get("version"))
    services.model_version_delete(actor=actor, version=version)
    return {}


@endpoint("model-versions/set-tag", "POST")
def model_version_tag_set(actor: Actor, params: Params) -> dict:
    version = selectors.version_of(actor, params.get("name"), params.get("version"))
    services.model_version_update(actor=actor, version=version,
                                  tags={_required(params, "key"): _text(params, "value")})
    return {}


@endpoint("model-versions/delete-tag", "DELETE")
def model_version_tag_delete(actor: Actor, params: Params) -> dict:
    version = selectors.version_of(actor, params.get("name"), params.get("version"))
    services.model_version_update(actor=actor, version=version,
                                  tags={_required(params, "key"): None})
    return {}


@endpoint("model-versions/get-download-uri", "GET")
def model_version_download_uri(actor: Actor, params: Params) -> dict:
    version = selectors.version_of(actor, params.get("name"), params.get("version"))
    return {"artifact_uri": f"mlflow-artifacts:/{ARTIFACT_ROOT}/{version.pk}"}


VERSION_ORDER = {"name": "model__name", "version_number": "version_major",
                 "creation_timestamp": "created_at", "last_updated_timestamp": "updated_at",
                 "timestamp": "updated_at"}


def _version_condition(clause: search.Clause):
    metadata = ModelVersionMetadata.objects.all()
    if clause.attribute is None:
        return search.tag_condition(metadata, clause)
    if clause.attribute == "run_id":
        return search.tag_condition(metadata, search.Clause(
            "run_id", selectors.RUN_ID_KEY, clause.operator, clause.value))
    if clause.attribute == "version_number" and clause.operator in ("=", "!=", "IN"):
        values = clause.value if clause.operator == "IN" else (clause.value,)
        numbers = tuple(selectors.version_number(value) for value in values)
        return search.value_condition("version_major", clause.operator,
                                      numbers if clause.operator == "IN" else numbers[0])
    fields = {"name": "model__name", "source_path": "source_uri"}
    if clause.attribute not in fields:
        raise invalid_parameter(f"Invalid filter on {clause.key!r}: model versions are "
                                "searched by name, run_id, source_path, version_number and "
                                "tags.")
    return search.value_condition(fields[clause.attribute], clause.operator, clause.value)


@endpoint("model-versions/search", "GET")
def model_version_search(actor: Actor, params: Params) -> dict:
    queryset = selectors.mlflow_versions(registry_selectors.model_versions_visible_to(actor))
    for clause in search.parse_filter(params.get("filter")):
        queryset = queryset.filter(_version_condition(clause))
    order = search.order_fields(params.get("order_by") or [], VERSION_ORDER,
                                ["model__name", "-version_major", "pk"])
    versions, token = _page(queryset.order_by(*order), params, default=10_000, limit=200_000,
                            fetch=selectors.versions_page)
    return {"model_versions": [serializers.model_version(version) for version in versions],
            **({"next_page_token": token} if token else {})}


# --- mlflow-artifacts: the files of a READY version ----------------------------------------

def _artifact_version(actor: Actor, path: str) -> tuple[ModelVersion | None, str]:
    """The version `model-versions/<id>/<rest>` names, if visible, and the rest."""
    root, _, rest = path.strip("/").partition("/")
    version_id, _, rest = rest.partition("/")
    if root != ARTIFACT_ROOT or not (version_id.isascii() and version_id.isdigit()):
        return None, rest
    version = selectors.version_with_details(
        registry_selectors.model_versions_visible_to(actor).filter(pk=int(version_id)))
    return version, rest


def _artifact_not_found(path: str) -> MlflowError:
    return does_not_exist(f"No artifact at '{path}'.")


def _entries(files: list[tuple[str, int]], folder: str) -> list[dict]:
    """The entries directly under `folder` of `files` ((path, size)), as MLflow lists them
    (basenames)."""
    entries: dict[str, dict] = {}
    prefix = f"{folder}/" if folder else ""
    for path, size in files:
        if not path.startswith(prefix):
            continue
        name, nested, _ = path[len(prefix):].partition("/")
        entries[name] = ({"path": name, "is_dir": True} if nested else
                         {"path": name, "is_dir": False, "file_size": size})
    return [entries[name] for name in sorted(entries)]


@csrf_exempt
def artifacts_list(request: HttpRequest) -> HttpResponse:
    """`GET ?path=`: the entries directly under `path` of a version's or a run's files; a
    path with nothing under it lists nothing, whether missing, hidden or quarantined."""
    if request.method != "GET":
        return not_found_endpoint(request)

    def respond() -> HttpResponse:
        actor, path = caller(request), request.GET.get("path", "")
        version, folder = _artifact_version(actor, path)
        if version is not None:
            files = [(file.path, file.size) for file in selectors.version_files(version)]
        elif (run_folder := _run_folder(actor, path)) is not None:
            run, folder = run_folder
            files = [(artifact.path, artifact.blob.size)
                     for artifact in selectors.run_artifacts(run, folder)]
        else:
            files = []
        entries = _entries(files, folder)
        return JsonResponse({"files": entries} if entries else {})

    return _guarded(respond)


def _run_folder(actor: Actor, path: str):
    """`selectors.run_folder`, with a missing run listing nothing rather than failing."""
    try:
        return selectors.run_folder(actor, path)
    except MlflowError:
        return None


@csrf_exempt
def artifact_download(request: HttpRequest, path: str) -> HttpResponse:
    if request.method == "PUT":
        return _guarded(lambda: tracking.artifact_upload(caller(request), request, path)
                        or JsonResponse({}))
    if request.method not in ("GET", "HEAD"):
        return not_found_endpoint(request)

    def respond() -> HttpResponse:
        actor = caller(request)
        version, file_path = _artifact_version(actor, path)
        if version is None and (run_folder := _run_folder(actor, path)) is not None:
            return _run_artifact_response(request, path, *run_folder)
        files = {artifact.path: artifact
                 for artifact in (selectors.version_files(version) if version else [])}
        if posixpath.normpath(file_path) != file_path or file_path not in files:
            raise _artifact_not_found(path)
        try:
            return file_response(request, files[file_path])
        except Http404 as error:  # its blob failed verification
            raise _artifact_not_found(path) from error

    return _guarded(respond)


def _run_artifact_response(request: HttpRequest, path: str, run, file_path: str) -> HttpResponse:
    """A run artifact's bytes, once a scan let them out (see `selectors.scanned_copy`)."""
    artifact = run.artifacts.select_related("blob").filter(path=file_path).first()
    if artifact is None:
        raise _artifact_not_found(path)
    copy = selectors.scanned_copy(artifact)
    if copy is None:
        raise does_not_exist(f"The artifact at '{path}' is not scanned: it is downloadable "
                             "once registered as a model version's file that is READY.")
    try:
        return file_response(request, copy)
    except Http404 as error:
        raise _artifact_not_found(path) from error


# The tracking endpoints register themselves with `endpoint` above, so they are imported last.
from mlflow_compat import tracking  # noqa: E402
