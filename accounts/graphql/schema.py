import strawberry
import strawberry_django
from strawberry_django.relay import DjangoListConnection

from accounts.graphql.types import TenantType, ViewerType
from config.graphql_context import actor_of


@strawberry.type
class Query:
    @strawberry.field(description="The caller: user, current tenant and role.")
    def viewer(self, info: strawberry.Info) -> ViewerType:
        actor = actor_of(info)
        return ViewerType(user=actor.user, tenant=actor.tenant, role=actor.role,
                          is_superuser=actor.is_superuser)

    tenants: DjangoListConnection[TenantType] = strawberry_django.connection(
        description="Every tenant for the superuser; the current one for its members."
    )
