"""Global ids of the registry's objects, decoded to what the services take."""

from strawberry import relay

from accounts.actor import Actor
from config.graphql_context import decode_id
from registry import catalog, models, services


def version_from_global_id(actor: Actor, global_id: relay.GlobalID) -> models.Version:
    """The model or dataset version behind `global_id` if visible, else NOT_FOUND."""
    version_id = decode_id(global_id, *catalog.BY_VERSION_TYPE_NAME, field="versionId")
    return services.version_get(
        actor=actor, version_class=catalog.BY_VERSION_TYPE_NAME[global_id.type_name].version_class,
        version_id=version_id,
    )
