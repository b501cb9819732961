from datetime import datetime

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry_django.relay import DjangoListConnection

from accounts import models, selectors
from accounts.actor import Actor
from accounts.graphql.enums import RoleEnum, TokenScopeEnum
from config.graphql_context import actor_of
from config.graphql_node import RestrictedNode, model_type
from registry.graphql.scalars import BigInt


@model_type(models.User, name="User")
class UserType(RestrictedNode):
    username: str

    # Users are looked up by id only among the caller's tenant. Not `restrict`: that would
    # also hide the owner of an object whose owner has since left the tenant.
    @staticmethod
    def restrict_lookup(queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset.filter(pk__in=selectors.users_visible_to(actor))


@model_type(models.Membership, name="Membership")
class MembershipType(RestrictedNode):
    user: UserType
    role: RoleEnum
    created_at: datetime

    @staticmethod
    def restrict(queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset.filter(pk__in=selectors.memberships_visible_to(actor))


@model_type(models.TenantGroup, name="TenantGroup")
class TenantGroupType(RestrictedNode):
    name: str
    created_at: datetime

    @staticmethod
    def restrict(queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset.filter(pk__in=selectors.groups_visible_to(actor))

    @strawberry_django.field(prefetch_related=["group__user_set"])
    def members(self) -> list[UserType]:
        return sorted(self.group.user_set.all(), key=lambda user: user.username)


@model_type(models.Tenant, name="Tenant")
class TenantType(RestrictedNode):
    slug: str
    organization: str
    address: str
    email: str
    phone: str
    scan_policy: str
    scan_pickle_allowlist: str = strawberry_django.field(
        description="The named allowlist of pickle globals the scanner applies beyond its "
        'default ("" for none, "sklearn" for scikit-learn, XGBoost and LightGBM).'
    )
    allow_anonymous_read: bool
    quota_bytes: BigInt
    quota_files: int
    trash_enabled: bool
    trash_restore_days: int
    is_default: bool
    created_at: datetime
    members: DjangoListConnection[MembershipType] = strawberry_django.connection(
        field_name="memberships", description="The tenant's members, visible to its members."
    )
    groups: DjangoListConnection[TenantGroupType] = strawberry_django.connection(
        description="Groups of members that objects can be shared with."
    )

    @staticmethod
    def restrict(queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset.filter(pk__in=selectors.tenants_visible_to(actor))


@model_type(models.ApiToken, name="ApiToken")
class ApiTokenType(RestrictedNode):
    name: str
    scopes: list[TokenScopeEnum]
    expires_at: datetime
    created_at: datetime
    last_used_at: datetime | None
    user: UserType

    @staticmethod
    def restrict(queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset.filter(pk__in=selectors.api_tokens_visible_to(actor))

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
