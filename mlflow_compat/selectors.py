"""Reads for the MLflow API, on top of registry.selectors (visibility applies unchanged).

Version numbers: MLflow's integer version N is our semantic version "N.0.0". Versions with
another string (1.2.0, 2.0.0-rc.1: pushed through GraphQL or the CLI) are not MLflow versions
and are not listed here; a new MLflow version takes the number after the highest major
version of the model, so it never collides with them.
"""

from typing import NamedTuple

from django.db.models import Exists, F, Max, OuterRef, QuerySet, Subquery

from accounts.actor import Actor
from mlflow_compat.errors import does_not_exist, invalid_parameter
from mlflow_compat.models import DEFAULT_EXPERIMENT, Experiment, LoggedModel, Run, RunArtifact
from registry import selectors as registry_selectors
from registry.models import (
    ArtifactFile,
    Blob,
    ModelAlias,
    ModelMetadata,
    ModelVersion,
    ModelVersionMetadata,
    RegisteredModel,
    ScanStatus,
)
from scanning.selectors import latest_finished_report

# Version metadata the adapter keeps for MLflow fields we have no column for; hidden from
# the version's MLflow tags, and refused as a tag key.
RESERVED_PREFIX = "registry.mlflow."
RUN_ID_KEY = f"{RESERVED_PREFIX}run_id"
RUN_LINK_KEY = f"{RESERVED_PREFIX}run_link"

READY = "READY"
PENDING_REGISTRATION = "PENDING_REGISTRATION"
FAILED_REGISTRATION = "FAILED_REGISTRATION"
# Files every tenant policy lets download (registry.selectors.file_is_downloadable).
SETTLED = (ScanStatus.CLEAN, ScanStatus.RELEASED)
DEFAULT_EXPERIMENT_ID = "0"
# What the artifact URI of a run or experiment starts with (tracking._experiment_json).
ARTIFACTS_SCHEME = "mlflow-artifacts:/"


def semver_of(number: int) -> str:
    return f"{number}.0.0"


def version_number(value) -> int:
    """The MLflow version number a client sent ("3"), else INVALID_PARAMETER_VALUE."""
    text = str(value if value is not None else "")
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < 1:
        raise invalid_parameter(f"Model version must be a positive integer, got {text!r}.")
    return int(text)


def mlflow_versions(queryset: QuerySet[ModelVersion]) -> QuerySet[ModelVersion]:
    """The versions that are MLflow versions: exactly "N.0.0"."""
    return queryset.filter(version_minor=0, version_patch=0, version_prerelease="~",
                           version__regex=r"^[0-9]+\.0\.0$")


def model_by_name(actor: Actor, name: str | None, *, details: bool = False) -> RegisteredModel:
    """The visible model `name`; with `details`, fetched with what its MLflow form shows."""
    models = registry_selectors.models_visible_to(actor).filter(name=name or "")
    model = (next(iter(models_with_details(models[:1])), None) if details else models.first())
    if model is None:
        raise does_not_exist(f"Registered Model with name={name} not found")
    return model


# A page's details are read as plain values, grouped by row in Python: model instances and
# Django's prefetching cost more than the queries themselves on a page of 100.
# Only the columns the MLflow forms show are read (a model's readme, a version's JSON
# columns are not), for versions only shown (services read the rest).
MODEL_FIELDS = ("name", "description", "created_at", "updated_at")
VERSION_FIELDS = ("version", "version_major", "description", "source_uri", "created_at",
                  "updated_at", "model_id")
Tag = tuple[str, str]  # (key, value)


class Alias(NamedTuple):
    name: str
    version_id: int
    version: str
    version_major: int


def models_with_details(queryset: QuerySet[RegisteredModel]) -> list[RegisteredModel]:
    """The models of `queryset` with what their MLflow form shows: `mlflow_owner` (the
    owner's username), `mlflow_metadata` (tags) and `mlflow_aliases` (Alias)."""
    models = list(queryset.annotate(mlflow_owner=F("owner__username")).only(*MODEL_FIELDS))
    metadata = _grouped(ModelMetadata.objects.filter(owner__in=models).order_by("key__name")
                        .values_list("owner_id", "key__name", "value"))
    aliases = _grouped(ModelAlias.objects.filter(model__in=models).order_by("name").values_list(
        "model_id", "name", "version_id", "version__version", "version__version_major"))
    for model in models:
        model.mlflow_metadata = [(key, value) for key, value in metadata.get(model.pk, [])]
        model.mlflow_aliases = [Alias(*alias) for alias in aliases.get(model.pk, [])]
    return models


def versions_with_details(queryset: QuerySet[ModelVersion], *,
                          models: list[RegisteredModel] | None = None) -> list[ModelVersion]:
    """As `models_with_details`, for versions: `mlflow_model_name`, `mlflow_creator`,
    `mlflow_scan_policy` (the tenant's), `mlflow_metadata`, `mlflow_aliases` (names) and
    `mlflow_files_unsettled`: whether a file is neither clean nor released (only then does
    `registration_status` read the files). With `models` (from `models_with_details`), the
    aliases are taken from theirs."""
    unsettled = registry_selectors.untrashed(ArtifactFile.objects.filter(
        model_version=OuterRef("pk"))).exclude(scan_status__in=SETTLED)
    versions = list(queryset.annotate(
        mlflow_files_unsettled=Exists(unsettled), mlflow_model_name=F("model__name"),
        mlflow_creator=F("created_by__username"),
        mlflow_scan_policy=F("model__tenant__scan_policy")))
    metadata = _grouped(ModelVersionMetadata.objects.filter(owner__in=versions)
                        .order_by("key__name")
                        .values_list("owner_id", "key__name", "value"))
    if models is None:
        aliases = _grouped(ModelAlias.objects.filter(version__in=versions).order_by("name")
                           .values_list("version_id", "name"))
    else:
        aliases = {}
        for model in models:
            for alias in model.mlflow_aliases:
                aliases.setdefault(alias.version_id, []).append((alias.name,))
    for version in versions:
        version.mlflow_metadata = [(key, value) for key, value in metadata.get(version.pk, [])]
        version.mlflow_aliases = [name for name, in aliases.get(version.pk, [])]
    return versions


def versions_page(queryset: QuerySet[ModelVersion]) -> list[ModelVersion]:
    """`versions_with_details` of versions that are only shown."""
    return versions_with_details(queryset.only(*VERSION_FIELDS))


def _grouped(rows) -> dict[int, list[tuple]]:
    """`(owner id, *values)` rows as owner id → [values]."""
    grouped: dict[int, list[tuple]] = {}
    for owner, *values in rows:
        grouped.setdefault(owner, []).append(tuple(values))
    return grouped


def latest_versions(models: list[RegisteredModel]) -> dict[int, ModelVersion]:
    """Each model's highest MLflow version, with its details: model id → version. `models`
    come from `models_with_details`."""
    highest = mlflow_versions(registry_selectors.untrashed(
        ModelVersion.objects.filter(model=OuterRef("model")))).order_by(
        "-version_major").values("pk")[:1]
    versions = versions_with_details(ModelVersion.objects.filter(
        model__in=models, pk=Subquery(highest)).only(*VERSION_FIELDS), models=models)
    return {version.model_id: version for version in versions}


def _versions_named(actor: Actor, name: str | None) -> QuerySet[ModelVersion]:
    """The versions of the visible model `name`, read in one query with the version: a
    version is visible exactly when its model is."""
    return registry_selectors.model_versions_visible_to(actor).filter(model__name=name or "")


def version_with_details(queryset: QuerySet[ModelVersion]) -> ModelVersion | None:
    return next(iter(versions_with_details(queryset[:1])), None)


def version_of(actor: Actor, name: str | None, number) -> ModelVersion:
    number = version_number(number)
    version = version_with_details(_versions_named(actor, name).filter(
        version=semver_of(number)))
    if version is None:
        model_by_name(actor, name)  # a missing model is reported as one
        raise does_not_exist(f"Model Version (name={name}, version={number}) not found")
    return version


def version_by_alias(actor: Actor, name: str | None, alias: str | None) -> ModelVersion:
    version = version_with_details(mlflow_versions(_versions_named(actor, name).filter(
        aliases__name=alias or "")).only(*VERSION_FIELDS))
    if version is None:
        model_by_name(actor, name)
        raise does_not_exist(f"Registered model alias {alias} not found.")
    return version


def next_version_number(model: RegisteredModel) -> int:
    return (model.versions.aggregate(major=Max("version_major"))["major"] or 0) + 1


def registration_status(version: ModelVersion) -> tuple[str, str]:
    """(MLflow status, status message) from the scans of the version's files.

    Downloadable files (clean, released, or flagged under a `warn` policy) are READY; any
    pending file keeps the version PENDING_REGISTRATION; a flagged or errored file that is
    not downloadable fails it, with the findings. A version without files is READY: its
    source is a URI the registry never dereferences. `version` comes from
    `versions_with_details`.
    """
    if not version.mlflow_files_unsettled:
        return READY, ""
    policy = version.mlflow_scan_policy
    files = list(registry_selectors.version_files(version).order_by("path"))
    blocked = [file for file in files if not registry_selectors.file_is_downloadable(file, policy)]
    if any(file.scan_status == ScanStatus.PENDING for file in blocked):
        return PENDING_REGISTRATION, "Waiting for the files' malware scans."
    if not blocked:
        return READY, ""
    return FAILED_REGISTRATION, "; ".join(_findings(file) for file in blocked)


def _findings(artifact: ArtifactFile) -> str:
    report = latest_finished_report(artifact)
    if report is None:
        return f"{artifact.path}: {artifact.scan_status}"
    if report.error:
        return f"{artifact.path}: scan error: {report.error}"
    findings = [f"{finding.severity} {finding.code} at {finding.location}: {finding.message}"
                for finding in report.findings.all()]
    return f"{artifact.path}: {artifact.scan_status}: {', '.join(findings) or report.verdict}"


def version_files(version: ModelVersion) -> list[ArtifactFile]:
    """The files of a version if all of them may be downloaded, else none: a version that
    is not READY has no artifacts to the client, as a missing one has none."""
    if registration_status(version)[0] != READY:
        return []
    return list(registry_selectors.version_files(version).select_related("blob", "tenant")
                .order_by("path"))


def logged_model_of(actor: Actor, model_id) -> LoggedModel:
    """A logged model of the actor's tenant (tracking data is per tenant, not per object)."""
    model = (LoggedModel.objects.select_related("experiment", "run")
             .filter(experiment__tenant=actor.tenant, model_id=str(model_id or "")).first())
    if model is None:
        raise does_not_exist(f"Logged model with ID '{model_id}' not found.")
    return model


def experiment_id(experiment: Experiment) -> str:
    return DEFAULT_EXPERIMENT_ID if experiment.name == DEFAULT_EXPERIMENT else str(experiment.pk)


def run_of(actor: Actor, run_id) -> Run:
    """A run of the actor's tenant (tracking data is per tenant, not per object)."""
    run = (Run.objects.select_related("experiment")
           .filter(experiment__tenant=actor.tenant, run_id=str(run_id or "")).first())
    if run is None:
        raise does_not_exist(f"Run with id={run_id} not found")
    return run


def run_folder(actor: Actor, path: str) -> tuple[Run, str] | None:
    """The run `<experiment>/<run_id>/artifacts[/<folder>]` names (its artifact root) and
    the folder, when the path is of that form; a run of another tenant is missing."""
    experiment, run_id, root, *folder = path.strip("/").split("/") + [""]
    if root != "artifacts" or experiment == "" or run_id in ("", "models"):
        return None
    run = run_of(actor, run_id)
    if experiment_id(run.experiment) != experiment:
        raise does_not_exist(f"Run with id={run_id} not found")
    return run, "/".join(folder).strip("/")


def run_artifacts(run: Run, folder: str = "") -> list[RunArtifact]:
    """The run's artifacts under `folder` (all of them for the root), by path."""
    artifacts = run.artifacts.select_related("blob").order_by("path")
    return list(artifacts.filter(path__startswith=f"{folder}/") if folder else artifacts)


def scanned_copy(run_artifact: RunArtifact) -> ArtifactFile | None:
    """A file of the run's tenant with the artifact's bytes that may be downloaded: run
    artifacts are scanned as the files of the versions registered from them, so their
    bytes leave the registry only once a scan let them."""
    tenant = run_artifact.run.experiment.tenant
    copies = (ArtifactFile.objects.select_related("blob", "tenant")
              .filter(tenant=tenant, blob=run_artifact.blob).order_by("pk"))
    return next((copy for copy in copies
                 if registry_selectors.file_is_downloadable(copy, tenant.scan_policy)), None)


def tracked_files(actor: Actor, *, model_id: str, source: str) -> list[tuple[str, Blob]]:
    """The files a new version takes: a logged model's uploads (`model_id`), or the run
    artifacts under a run folder of the tenant its `source` names (what
    `register_model("runs:/<run_id>/<path>")` sends), with paths relative to that folder;
    none for any other source (a URI the registry never dereferences)."""
    if model_id:
        logged_model = logged_model_of(actor, model_id)
        return [(upload.path, upload.blob) for upload in logged_model.files.select_related("blob")]
    if not source.startswith(ARTIFACTS_SCHEME):
        return []
    folder = run_folder(actor, source.removeprefix(ARTIFACTS_SCHEME))
    if folder is None:
        return []
    run, prefix = folder
    return [(artifact.path.removeprefix(f"{prefix}/") if prefix else artifact.path,
             artifact.blob) for artifact in run_artifacts(run, prefix)]
