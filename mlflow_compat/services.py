"""Writes for the MLflow API: each is one registry service call, or a short composition of
registry services where MLflow's operation differs (numbered versions, reserved tags).
Rights, validation and tenancy are the registry's."""

from collections.abc import Iterable

from django.db import transaction

from accounts.actor import Actor
from accounts.errors import require_scope
from mlflow_compat import selectors
from mlflow_compat.errors import invalid_parameter
from registry import services
from registry.models import Blob, ModelVersion, RegisteredModel


def _check_tag_keys(keys) -> None:
    for key in keys:
        if (key or "").startswith(selectors.RESERVED_PREFIX):
            raise invalid_parameter(f"Tag keys starting with {selectors.RESERVED_PREFIX!r} "
                                    "are reserved.")


def registered_model_create(*, actor: Actor, name: str, description: str,
                            tags: dict[str, str]) -> RegisteredModel:
    _check_tag_keys(tags)
    return services.catalog_entry_create(entry_class=RegisteredModel, actor=actor, name=name,
                                         description=description, metadata=tags)


def registered_model_update(*, actor: Actor, model: RegisteredModel, **fields) -> RegisteredModel:
    """`name`, `description`, or `metadata` ({key: value, or None to remove})."""
    _check_tag_keys(fields.get("metadata", {}))
    return services.catalog_entry_update(entry_class=RegisteredModel, actor=actor,
                                         entry_id=model.pk, **fields)


def registered_model_delete(*, actor: Actor, model: RegisteredModel) -> None:
    services.catalog_entry_delete(entry_class=RegisteredModel, actor=actor, entry_id=model.pk)


@transaction.atomic
def model_version_create(*, actor: Actor, model: RegisteredModel, source: str, run_id: str,
                         run_link: str, description: str, tags: dict[str, str],
                         files: Iterable[tuple[str, Blob]] = ()) -> ModelVersion:
    """`files` ((path, blob): a logged model's uploads or a run's artifacts, see
    `selectors.tracked_files`) become the version's files, scanned as any new file."""
    _check_tag_keys(tags)
    require_scope(actor)
    # Locks the model, so concurrent creations take consecutive numbers.
    locked = services.catalog_entry_for_change(entry_class=RegisteredModel, actor=actor,
                                               entry_id=model.pk, field="name")
    reserved = {selectors.RUN_ID_KEY: run_id, selectors.RUN_LINK_KEY: run_link}
    version = services.version_create(
        version_class=ModelVersion, actor=actor, parent_id=locked.pk,
        version=selectors.semver_of(selectors.next_version_number(locked)),
        description=description, source_uri=source,
        metadata={**tags, **{key: value for key, value in reserved.items() if value}},
    )
    for path, blob in files:
        services.file_create_from_blob(actor=actor, version=version, path=path, blob=blob)
    return version


def model_version_update(*, actor: Actor, version: ModelVersion,
                         description: str | None = None,
                         tags: dict[str, str | None] | None = None) -> ModelVersion:
    """A new description, and tags set (or removed, with None)."""
    _check_tag_keys(tags or {})
    fields = {} if description is None else {"description": description}
    return services.version_update(actor=actor, version=version, metadata=tags or {},
                                   field="version", **fields)


def model_version_delete(*, actor: Actor, version: ModelVersion) -> None:
    """Takes the right to delete its model; refused while an alias points at the version."""
    services.version_delete(actor=actor, version=version, field="version")


def alias_set(*, actor: Actor, model: RegisteredModel, alias: str,
              version: ModelVersion) -> None:
    services.model_alias_set(actor=actor, model_id=model.pk, alias=alias, version_id=version.pk)


def alias_delete(*, actor: Actor, model: RegisteredModel, alias: str) -> None:
    services.model_alias_remove(actor=actor, model_id=model.pk, alias=alias)
