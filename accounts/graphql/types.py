from collections.abc import Iterable
from datetime import datetime

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry import relay
from strawberry_django.relay import DjangoListConnection

from accounts import models, selectors
from accounts.graphql.enums import RoleEnum, TokenScopeEnum
from config.graphql_context import actor_of


@strawberry_django.type(models.User, name="User")
class UserType(relay.Node):
    username: str

    # Users are looked up by id only among the caller's tenant. Not a get_queryset: that
    # would also hide the owner of an object whose owner has since left the tenant.
    @classmethod
    def resolve_nodes(cls, *, info: strawberry.Info, node_ids: Iterable[str],
                      required: bool = False) -> list[models.User | None]:
        node_ids = [str(node_id) for node_id in node_ids]
        visible = selectors.users_visible_to(actor_of(info)).filter(
            pk__in=[node_id for node_id in node_ids if node_id.isdigit()]
        )
        by_id = {str(user.pk): user for user in visible}
        return [by_id.get(node_id) for node_id in node_ids]

    @classmethod
    def resolve_node(cls, node_id: str, *, info: strawberry.Info,
                     required: bool = False) -> models.User | None:
        return cls.resolve_nodes(info=info, node_ids=[node_id])[0]


@strawberry_django.type(models.Membership, name="Membership")
class MembershipType(relay.Node):
    user: UserType
    role: RoleEnum
    created_at: datetime

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return queryset.filter(pk__in=selectors.memberships_visible_to(actor_of(info)))


@strawberry_django.type(models.TenantGroup, name="TenantGroup")
class TenantGroupType(relay.Node):
    name: str
    created_at: datetime

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return queryset.filter(pk__in=selectors.groups_visible_to(actor_of(info)))

    @strawberry_django.field(prefetch_related=["group__user_set"])
    def members(self) -> list[UserType]:
        return sorted(self.group.user_set.all(), key=lambda user: user.username)


@strawberry_django.type(models.Tenant, name="Tenant")
class TenantType(relay.Node):
    slug: str
    organization: str
    address: str
    email: str
    phone: str
    scan_policy: str
    allow_anonymous_read: bool
    is_default: bool
    created_at: datetime
    members: DjangoListConnection[MembershipType] = strawberry_django.connection(
        field_name="memberships", description="The tenant's members, visible to its members."
    )
    groups: DjangoListConnection[TenantGroupType] = strawberry_django.connection(
        description="Groups of members that objects can be shared with."
    )

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return queryset.filter(pk__in=selectors.tenants_visible_to(actor_of(info)))


@strawberry_django.type(models.ApiToken, name="ApiToken")
class ApiTokenType(relay.Node):
    name: str
    scopes: list[TokenScopeEnum]
    expires_at: datetime
    created_at: datetime
    last_used_at: datetime | None
    user: UserType

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return queryset.filter(pk__in=selectors.api_tokens_visible_to(actor_of(info)))

    @strawberry_django.field(only=["lookup"],
                             description="The token's first characters, to recognise it.")
    def prefix(self) -> str:
        return f"rgk_{self.lookup}"


@strawberry.type(name="ViewerMembership")
class ViewerMembershipType:
    tenant_slug: str
    organization: str
    role: RoleEnum


@strawberry.type(name="Viewer")
class ViewerType:
    user: UserType | None
    tenant: TenantType | None
    role: RoleEnum | None
    is_superuser: bool

    @strawberry.field(description="Every tenant the caller belongs to, to log into.")
    def memberships(self) -> list[ViewerMembershipType]:
        if self.user is None:
            return []
        return [ViewerMembershipType(tenant_slug=m.tenant.slug,
                                     organization=m.tenant.organization, role=m.role)
                for m in self.user.memberships.select_related("tenant").order_by("tenant__slug")]

    @strawberry.field(description="The caller's own API tokens in the current tenant.")
    def api_tokens(self, info: strawberry.Info) -> list[ApiTokenType]:
        if self.user is None:
            return []
        return list(selectors.api_tokens_visible_to(actor_of(info)).filter(user=self.user))


@strawberry.type(name="TokenPair")
class TokenPairType:
    access_token: str = strawberry.field(description="Send as `Authorization: Bearer ...`.")
    refresh_token: str = strawberry.field(description="Renews the pair before refreshExpiresAt.")
    expires_at: datetime = strawberry.field(description="When the access token expires.")
    refresh_expires_at: datetime
    tenant_slug: str


@strawberry.type(name="NewApiToken")
class NewApiTokenType:
    token: str = strawberry.field(description="The secret: shown this once, never again.")
    api_token: ApiTokenType


@strawberry.type(name="Logout")
class LogoutType:
    revoked: bool
