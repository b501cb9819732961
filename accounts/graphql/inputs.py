from datetime import datetime

import strawberry
from strawberry import relay

from accounts.graphql.enums import RoleEnum, TokenScopeEnum
from registry.graphql.scalars import BigInt


@strawberry.input
class CreateTenantInput:
    slug: str
    organization: str
    admin_username: str = strawberry.field(
        description="The first tenant admin; an existing user, or a new one with the password."
    )
    admin_password: str | None = None
    address: str = ""
    email: str = ""
    phone: str = ""


@strawberry.input(description="Omitted fields stay unchanged.")
class UpdateTenantInput:
    id: relay.GlobalID
    scan_policy: str | None = strawberry.field(default=None,
                                               description="`block` or `warn`.")
    allow_anonymous_read: bool | None = None
    quota_bytes: BigInt | None = strawberry.field(default=None, description="Superuser only.")
    quota_files: int | None = strawberry.field(default=None, description="Superuser only.")
    trash_enabled: bool | None = strawberry.field(
        default=None, description="Deleted versions and files go to the trash first.")
    trash_restore_days: int | None = strawberry.field(
        default=None, description="Days the trash keeps them restorable (1-365).")


@strawberry.input
class AddMemberInput:
    username: str = strawberry.field(
        description="An existing user, or a new one when a password is given."
    )
    role: RoleEnum = RoleEnum.VIEWER
    password: str | None = None


@strawberry.input
class CreateApiTokenInput:
    name: str
    scopes: list[TokenScopeEnum]
    expires_at: datetime | None = strawberry.field(
        default=None, description="Default and maximum lifetimes are set by the server."
    )
