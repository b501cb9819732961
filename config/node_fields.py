"""`node(id)` and `nodes(ids)`: any id that is not one of ours answers null, never an error.

strawberry's own relay fields parse the id before any resolver runs and pass the rest to the
type, so a malformed id, an unknown type or a key such as "abc" (or "١", which Python reads as
1) would answer the parser's or the database's exception text. Here every id is checked first:
base64 of `Type:digits` naming a Node type of the schema, ASCII digits only.
"""

from collections import defaultdict
from typing import Annotated

import strawberry
from strawberry import relay

from accounts.validators import is_database_id


def _node_type_and_key(info: strawberry.Info, value: str) -> tuple[type[relay.Node], str] | None:
    try:
        global_id = relay.GlobalID.from_id(value)
        node_type = global_id.resolve_type(info)
    except (relay.GlobalIDValueError, ValueError, TypeError):
        return None
    key = str(global_id.node_id)
    return (node_type, key) if is_database_id(key) else None


def resolve_global_ids(info: strawberry.Info, ids: list[str]) -> list[relay.Node | None]:
    """The visible objects behind `ids`, in order, None for the others; one query per type."""
    wanted: defaultdict[type[relay.Node], list[tuple[int, str]]] = defaultdict(list)
    for index, value in enumerate(ids):
        if (found := _node_type_and_key(info, value)) is not None:
            wanted[found[0]].append((index, found[1]))
    resolved: list[relay.Node | None] = [None] * len(ids)
    for node_type, entries in wanted.items():
        nodes = node_type.resolve_nodes(info=info, node_ids=[key for _, key in entries],
                                        required=False)
        for (index, _), node in zip(entries, nodes, strict=True):
            if node is not None:
                resolved[index] = strawberry.cast(node_type, node)
    return resolved


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object the caller may see, else null.")
    def node(self, info: strawberry.Info,
             id: Annotated[strawberry.ID, strawberry.argument(
                 description="The ID of the object.")]) -> relay.Node | None:
        return resolve_global_ids(info, [id])[0]

    @strawberry.field(description="Objects the caller may see, in order; null for the others.")
    def nodes(self, info: strawberry.Info,
              ids: Annotated[list[strawberry.ID], strawberry.argument(
                  description="The IDs of the objects.")]) -> list[relay.Node | None]:
        return resolve_global_ids(info, ids)
