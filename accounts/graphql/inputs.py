from datetime import datetime

import strawberry

from accounts.graphql.enums import RoleEnum, TokenScopeEnum


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
