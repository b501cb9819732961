"""The one place where the apps' GraphQL queries and mutations are combined."""

import strawberry
from django.conf import settings
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry_django.optimizer import DjangoOptimizerExtension

import config
from accounts.graphql.mutations import Mutation as AccountsMutation
from accounts.graphql.schema import Query as AccountsQuery
from audit.graphql.schema import Query as AuditQuery
from cleanup.graphql.mutations import Mutation as CleanupMutation
from cleanup.graphql.schema import Query as CleanupQuery
from config.errors import all_error_codes
from config.graphql_limits import limit_extensions
from config.metrics import OperationMetrics
from config.node_fields import NodeQuery
from deployments.graphql.mutations import Mutation as DeploymentsMutation
from deployments.graphql.schema import Query as DeploymentsQuery
from registry.graphql.mutations import Mutation as RegistryMutation
from registry.graphql.schema import Query as RegistryQuery
from registry.graphql.sharing import Mutation as SharingMutation
from registry.graphql.transfer import Mutation as TransferMutation
from registry.graphql.trash import Mutation as TrashMutation
from registry.graphql.trash import Query as TrashQuery
from scanning.graphql.mutations import Mutation as ScanningMutation
from scanning.graphql.schema import Query as ScanningQuery
from webhooks.graphql.mutations import Mutation as WebhooksMutation
from webhooks.graphql.schema import Query as WebhooksQuery


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


Query = merge_types("Query", (NodeQuery, CoreQuery, AccountsQuery, RegistryQuery, ScanningQuery,
                             WebhooksQuery, DeploymentsQuery, AuditQuery, TrashQuery,
                             CleanupQuery))
Mutation = merge_types("Mutation", (AccountsMutation, RegistryMutation, SharingMutation,
                                   TransferMutation, ScanningMutation, WebhooksMutation,
                                   DeploymentsMutation, TrashMutation, CleanupMutation))

schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    # The clients send the same few documents again and again: parse and validate each once.
    # Limits first (after the metrics, which time and count every operation): a document over
    # them is refused before it is parsed in full or validated.
    extensions=[OperationMetrics, *limit_extensions(), DjangoOptimizerExtension, ParserCache,
                ValidationCache],
    config=StrawberryConfig(relay_max_results=settings.GRAPHQL_MAX_PAGE_SIZE),
)


