"""Our rows in MLflow's protobuf JSON (model_registry.proto field names), as fetched with
`selectors.models_with_details` / `versions_with_details`."""

from datetime import datetime

from mlflow_compat import selectors
from registry.models import ModelVersion, RegisteredModel


def _milliseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _tags(metadata: list[selectors.Tag]) -> list[dict]:
    return [{"key": key, "value": value} for key, value in metadata
            if not key.startswith(selectors.RESERVED_PREFIX)]


def _number(version: ModelVersion) -> str:
    return str(version.version_major)


def registered_model(model: RegisteredModel, latest: ModelVersion | None) -> dict:
    return {
        "name": model.name,
        "creation_timestamp": _milliseconds(model.created_at),
        "last_updated_timestamp": _milliseconds(model.updated_at),
        "user_id": model.mlflow_owner,
        "description": model.description,
        "latest_versions": [model_version(latest)] if latest else [],
        "tags": _tags(model.mlflow_metadata),
        "aliases": [{"alias": alias.name, "version": str(alias.version_major)}
                    for alias in model.mlflow_aliases
                    if alias.version == selectors.semver_of(alias.version_major)],
    }


def model_version(version: ModelVersion) -> dict:
    status, message = selectors.registration_status(version)
    reserved = {key: value for key, value in version.mlflow_metadata
                if key.startswith(selectors.RESERVED_PREFIX)}
    return {
        "name": version.mlflow_model_name,
        "version": _number(version),
        "creation_timestamp": _milliseconds(version.created_at),
        "last_updated_timestamp": _milliseconds(version.updated_at),
        "user_id": version.mlflow_creator,
        "current_stage": "None",
        "description": version.description,
        "source": version.source_uri,
        "run_id": reserved.get(selectors.RUN_ID_KEY, ""),
        "run_link": reserved.get(selectors.RUN_LINK_KEY, ""),
        "status": status,
        "status_message": message,
        "tags": _tags(version.mlflow_metadata),
        "aliases": version.mlflow_aliases,
    }
