"""GraphQL plumbing shared by every app: the typed context and `Info`, global id decoding,
the deletion payload. Below the apps (accounts imports it), so it names none of them."""

from dataclasses import dataclass

import strawberry
from django.http import HttpRequest, HttpResponse
from strawberry import relay

from accounts.actor import Actor
from accounts.errors import not_found
from accounts.validators import is_database_id


@dataclass
class RegistryContext:
    request: HttpRequest
    response: HttpResponse
    actor: Actor


Info = strawberry.Info[RegistryContext, None]


def actor_of(info: Info) -> Actor:
    return info.context.actor


def decode_id(global_id: relay.GlobalID, *type_names: str, field: str = "id") -> int:
    """The primary key behind a global id of one of `type_names`, else NOT_FOUND."""
    if global_id.type_name not in type_names or not is_database_id(str(global_id.node_id)):
        raise not_found(field)
    return int(global_id.node_id)


@strawberry.type(name="Deletion")
class DeletionType:
    deleted_id: relay.GlobalID
