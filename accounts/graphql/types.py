import strawberry
import strawberry_django
from strawberry import relay

from accounts import models


@strawberry_django.type(models.User, name="User")
class UserType(relay.Node):
    username: str


@strawberry_django.type(models.Tenant, name="Tenant")
class TenantType(relay.Node):
    slug: str
    organization: str
    scan_policy: str
    allow_anonymous_read: bool


@strawberry.type(name="Viewer")
class ViewerType:
    user: UserType | None
    tenant: TenantType | None
    role: str | None
    is_superuser: bool
