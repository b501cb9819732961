import strawberry
from django.db.models import QuerySet
from strawberry import relay
from strawberry_django.optimizer import is_optimized_by_prefetching
from strawberry_django.relay import DjangoListConnection


@strawberry.type(name="Connection", description="A connection to a list of items.")
class CountedListConnection(DjangoListConnection[relay.NodeType]):
    """A top-level connection whose `totalCount` is its own COUNT query.

    strawberry-django otherwise adds `COUNT(*) OVER ()` to the page query, which makes
    PostgreSQL build every visible row (all 100,000 models for a tenant admin) before it can
    return the first 100; a separate COUNT is an index scan, and the page stops at its limit.
    Nested connections, resolved from prefetched windows, keep the library's behaviour.
    """

    @classmethod
    def resolve_connection(cls, nodes, *, info, **kwargs):
        if not isinstance(nodes, QuerySet) or is_optimized_by_prefetching(nodes):
            return super().resolve_connection(nodes, info=info, **kwargs)
        # ListConnection's slicing, without DjangoListConnection's window annotation; the
        # unsliced queryset stays on the connection for `totalCount`.
        connection = super(DjangoListConnection, cls).resolve_connection(nodes, info=info,
                                                                        **kwargs)
        connection.nodes = nodes
        return connection
