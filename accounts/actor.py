"""Who is calling, in which tenant, with which role: resolved once per request.

Every read and write in the registry takes an ``Actor``; nothing below the API layer
looks at the request itself.
"""

from dataclasses import dataclass, field

from accounts.models import Role, Tenant, User


@dataclass(frozen=True)
class Actor:
    user: User | None
    tenant: Tenant | None
    role: str | None = None
    # API token scopes; None for sessions and access tokens (full access of the role).
    scopes: frozenset[str] | None = None
    # The API token the caller authenticated with (usage counts who pulled), else None.
    token_id: int | None = None
    group_ids: frozenset[int] = field(default_factory=frozenset)
    # A bearer token was sent and refused: the caller is told, never silently downgraded.
    credentials_rejected: bool = False

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None

    @property
    def is_superuser(self) -> bool:
        return self.user is not None and self.user.is_superuser

    @property
    def is_tenant_admin(self) -> bool:
        return self.tenant is not None and (self.is_superuser or self.role == Role.ADMIN)

    @property
    def can_create(self) -> bool:
        return self.is_tenant_admin or self.role == Role.MAINTAINER

    def has_scope(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes or "admin" in self.scopes


ANONYMOUS = Actor(user=None, tenant=None)
REJECTED = Actor(user=None, tenant=None, credentials_rejected=True)
