"""Our rows in MLflow's protobuf JSON (model_registry.proto field names), as fetched with
`selectors.with_model_details` / `with_version_details`."""

from datetime import datetime

from mlflow_compat import selectors
from registry.models import ModelVersion, RegisteredModel


def _milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _tags(metadata) -> list[dict]:
    return [{"key": entry.key_name, "value": entry.value} for entry in metadata
            if not entry.key_name.startswith(selectors.RESERVED_PREFIX)]


def _number(version: ModelVersion) -> str:
    return str(version.version_major)


def registered_model(model: RegisteredModel, latest: ModelVersion | None) -> dict:
    return {
        "name": model.name,
        "creation_timestamp": _milliseconds(model.created_at),
        "last_updated_timestamp": _milliseconds(model.updated_at),
        "user_id": model.owner.username,
        "description": model.description,
        "latest_versions": [model_version(latest, model_name=model.name)] if latest else [],
        "tags": _tags(model.mlflow_metadata),
        "aliases": [{"alias": alias.name, "version": str(alias.version_major)}
                    for alias in model.mlflow_aliases
                    if alias.version_string == selectors.semver_of(alias.version_major)],
    }


def model_version(version: ModelVersion, model_name: str | None = None) -> dict:
    status, message = selectors.registration_status(version)
    reserved = {entry.key_name: entry.value for entry in version.mlflow_metadata
                if entry.key_name.startswith(selectors.RESERVED_PREFIX)}
    return {
        "name": model_name or version.model.name,
        "version": _number(version),
        "creation_timestamp": _milliseconds(version.created_at),
        "last_updated_timestamp": _milliseconds(version.updated_at),
        "user_id": version.created_by.username,
        "current_stage": "None",
        "description": version.description,
        "source": version.source_uri,
        "run_id": reserved.get(selectors.RUN_ID_KEY, ""),
        "run_link": reserved.get(selectors.RUN_LINK_KEY, ""),
        "status": status,
        "status_message": message,
        "tags": _tags(version.mlflow_metadata),
        "aliases": [alias.name for alias in version.mlflow_aliases],
    }
