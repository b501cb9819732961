"""The one place where the apps' GraphQL queries and mutations are combined."""

import strawberry
from django.conf import settings
from strawberry import relay
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry_django.optimizer import DjangoOptimizerExtension
from strawberry_django.utils.typing import has_django_definition

import config
from accounts.graphql.mutations import Mutation as AccountsMutation
from accounts.graphql.schema import Query as AccountsQuery
from config.direct_resolvers import install_direct_resolvers
from config.errors import all_error_codes
from config.graphql_limits import limit_extensions
from config.optimizer import join_relations
from registry.graphql.mutations import Mutation as RegistryMutation
from registry.graphql.schema import Query as RegistryQuery
from registry.graphql.sharing import Mutation as SharingMutation
from registry.graphql.transfer import Mutation as TransferMutation
from registry.selectors import OWN_VERSION_RELATIONS
from scanning.graphql.mutations import Mutation as ScanningMutation
from scanning.graphql.schema import Query as ScanningQuery


@strawberry.type(name="ErrorCode")
class ErrorCodeType:
    code: str
    description: str


@strawberry.type(name="ServerInfo")
class ServerInfoType:
    name: str
    version: str
    environment: str
    storage_backend: str
    workers_eager: bool


@strawberry.type
class CoreQuery:
    node: relay.Node | None = relay.node(description="Any object the caller may see, else null.")
    nodes: list[relay.Node | None] = relay.node(
        description="Objects the caller may see, in order; null for the others."
    )

    @strawberry.field(description="Every error code the API can return.")
    def error_codes(self) -> list[ErrorCodeType]:
        return [ErrorCodeType(code=code, description=description)
                for code, description in all_error_codes()]

    @strawberry.field
    def server_info(self) -> ServerInfoType:
        return ServerInfoType(
            name="model-registry",
            version=config.__version__,
            environment=settings.ENVIRONMENT,
            storage_backend=settings.STORAGE_BACKEND_NAME,
            workers_eager=settings.CELERY_TASK_ALWAYS_EAGER,
        )


Query = merge_types("Query", (CoreQuery, AccountsQuery, RegistryQuery, ScanningQuery))
Mutation = merge_types("Mutation", (AccountsMutation, RegistryMutation, SharingMutation,
                                   TransferMutation, ScanningMutation))

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    # The clients send the same few documents again and again: parse and validate each once.
    # Limits first: a document over them is refused before it is parsed in full or validated.
    extensions=[*limit_extensions(), DjangoOptimizerExtension, ParserCache, ValidationCache],
    config=StrawberryConfig(relay_max_results=settings.GRAPHQL_MAX_PAGE_SIZE),
)


def _cache_node_id_attributes(built: strawberry.Schema) -> None:
    """strawberry looks a model type's id attribute up again, re-evaluating every annotation
    of the type, for each id it resolves when the type has no NodeID field (ours use the
    primary key): about 1 ms per object of a page. Look it up once per type."""
    for graphql_type in built.schema_converter.type_map.values():
        origin = getattr(graphql_type.definition, "origin", None)
        if has_django_definition(origin) and issubclass(origin, relay.Node):
            origin._id_attr = origin.resolve_id_attr()


_cache_node_id_attributes(schema)
install_direct_resolvers(schema)
join_relations(OWN_VERSION_RELATIONS)
