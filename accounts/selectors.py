"""Reads of tenants, users, memberships and tokens, scoped to the caller."""

import dataclasses
import hmac
from collections import Counter
from collections.abc import Iterable

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts import tokens
from accounts.actor import Actor
from accounts.models import (
    ApiToken,
    LoginSession,
    Membership,
    Role,
    Tenant,
    TenantGroup,
    User,
)


def default_tenant() -> Tenant:
    return Tenant.objects.get(is_default=True)


def membership_for(*, user: User, tenant: Tenant) -> Membership | None:
    return Membership.objects.filter(user=user, tenant=tenant).first()


def actor_for(*, user: User, tenant: Tenant | None = None,
              scopes: frozenset[str] | None = None) -> Actor:
    """The actor of `user` in `tenant` (default tenant when omitted).

    A user without a membership in the tenant gets no tenant at all, so every tenant-scoped
    query comes back empty; the superuser may act in any tenant as its admin.
    """
    if not user.is_active:
        return Actor(user=None, tenant=None)
    tenant = tenant or default_tenant()
    membership = membership_for(user=user, tenant=tenant)
    return _actor(user=user, tenant=tenant, role=membership.role if membership else None,
                  scopes=scopes)


def _actor(*, user: User, tenant: Tenant, role: str | None, scopes: frozenset[str] | None,
           in_groups: bool = True) -> Actor:
    """`user` acting in `tenant` with `role` (None: not a member); the groups are read only
    when the user may be in one."""
    if role is None and not user.is_superuser:
        return Actor(user=user, tenant=None)
    group_ids = frozenset(user.groups.values_list("id", flat=True)) if in_groups else frozenset()
    return Actor(user=user, tenant=tenant, role=role, scopes=scopes, group_ids=group_ids)


def token_actor(*, user: User, tenant: Tenant,
                scopes: frozenset[str] | None = None,
                token_id: int | None = None) -> Actor | None:
    """The actor a token of `user` in `tenant` stands for, or None when the user may no
    longer act there (deactivated, or removed from the tenant)."""
    actor = actor_for(user=user, tenant=tenant, scopes=scopes)
    if actor.user is None or actor.tenant is None:
        return None
    return dataclasses.replace(actor, token_id=token_id)


def credential_actor(credential: ApiToken | LoginSession, *,
                     scopes: frozenset[str] | None = None,
                     token_id: int | None = None) -> Actor | None:
    """`token_actor` for a token row of `api_token_for` or `login_session_for`, which read
    the membership with the token: no further query, but the groups of a user in any."""
    user = credential.user
    if not user.is_active:
        return None
    actor = _actor(user=user, tenant=credential.tenant, role=credential.caller_role,
                   scopes=scopes, in_groups=credential.caller_in_groups)
    if actor.tenant is None:
        return None
    return dataclasses.replace(actor, token_id=token_id)


def _with_caller(credentials: QuerySet) -> QuerySet:
    """Token rows with their user, tenant, the user's role there (`caller_role`, None when
    not a member) and whether the user is in any group (`caller_in_groups`): a caller is
    resolved in one query."""
    return credentials.select_related("user", "tenant").annotate(
        caller_role=Subquery(Membership.objects.filter(
            user=OuterRef("user"), tenant=OuterRef("tenant")).values("role")[:1]),
        caller_in_groups=Exists(User.groups.through.objects.filter(user=OuterRef("user"))),
    )


# --- Tokens --------------------------------------------------------------------------------

def login_session_for(token: str, *, kind: str, lock: bool = False) -> LoginSession | None:
    """The login a current access (or refresh) token belongs to, else None.

    Expired tokens, tokens of another kind, and tokens issued before the user's password
    changed are all refused alike.
    """
    parsed = tokens.parse_token(token)
    if parsed is None or parsed.kind != kind:
        return None
    sessions = _with_caller(LoginSession.objects.all())
    if lock:
        sessions = sessions.select_for_update(of=("self",))
    session = sessions.filter(lookup=parsed.lookup).first()
    if session is None:
        return None
    if kind == tokens.ACCESS:
        stored_hash, expires_at = session.access_hash, session.access_expires_at
    else:
        stored_hash, expires_at = session.refresh_hash, session.refresh_expires_at
    if not tokens.token_matches(token, stored_hash) or expires_at <= timezone.now():
        return None
    if not hmac.compare_digest(session.credential_hash, session.user.get_session_auth_hash()):
        return None
    return session


def api_token_for(token: str) -> ApiToken | None:
    """The unexpired API token `token` is the secret of, else None."""
    parsed = tokens.parse_token(token)
    if parsed is None or parsed.kind != tokens.API:
        return None
    api_token = _with_caller(ApiToken.objects.filter(lookup=parsed.lookup)).first()
    if (api_token is None or not tokens.token_matches(token, api_token.secret_hash)
            or api_token.expires_at <= timezone.now()):
        return None
    return api_token


# --- What a caller may see -----------------------------------------------------------------

def _is_member(actor: Actor) -> bool:
    """Members (and the superuser) of the actor's tenant, not anonymous readers."""
    return actor.tenant is not None and (actor.role is not None or actor.is_superuser)


def tenants_visible_to(actor: Actor) -> QuerySet[Tenant]:
    """The superuser sees every tenant; a member sees the tenant they act in."""
    if actor.is_superuser:
        return Tenant.objects.all()
    if not _is_member(actor):
        return Tenant.objects.none()
    return Tenant.objects.filter(pk=actor.tenant.pk)


def memberships_visible_to(actor: Actor) -> QuerySet[Membership]:
    if actor.is_superuser:
        return Membership.objects.all()
    if not _is_member(actor):
        return Membership.objects.none()
    return Membership.objects.filter(tenant=actor.tenant)


def users_visible_to(actor: Actor) -> QuerySet[User]:
    """The members of the actor's tenant and the actor themselves; the superuser sees all."""
    if actor.user is None:
        return User.objects.none()
    if actor.is_superuser:
        return User.objects.all()
    if not _is_member(actor):
        return User.objects.filter(pk=actor.user.pk)
    return User.objects.filter(
        Q(pk=actor.user.pk) | Q(pk__in=Membership.objects.filter(tenant=actor.tenant)
                                .values("user_id"))
    )


def groups_visible_to(actor: Actor) -> QuerySet[TenantGroup]:
    if actor.is_superuser:
        return TenantGroup.objects.all()
    if not _is_member(actor):
        return TenantGroup.objects.none()
    return TenantGroup.objects.filter(tenant=actor.tenant)


def api_tokens_visible_to(actor: Actor) -> QuerySet[ApiToken]:
    """The actor's own tokens in the tenant; tenant admins see every token of the tenant."""
    if actor.user is None or actor.tenant is None:
        return ApiToken.objects.none()
    tenant_tokens = ApiToken.objects.filter(tenant=actor.tenant)
    return tenant_tokens if actor.is_tenant_admin else tenant_tokens.filter(user=actor.user)


def tenants_left_without_admin(leaving: Iterable[Membership]) -> list[Tenant]:
    """The tenants that would have no admin once the `leaving` memberships, as stored, stop
    being admin ones (removed, demoted or moved to another tenant)."""
    leaving_admins = Counter(membership.tenant_id for membership in leaving
                             if membership.role == Role.ADMIN)
    admins = dict(Membership.objects.filter(tenant_id__in=leaving_admins, role=Role.ADMIN)
                  .values("tenant_id").annotate(count=Count("pk"))
                  .values_list("tenant_id", "count"))
    return list(Tenant.objects.filter(pk__in=[
        tenant_id for tenant_id, count in leaving_admins.items()
        if admins.get(tenant_id, 0) <= count]).order_by("slug"))


def user_enlistable_by(actor: Actor, user: User) -> bool:
    """Whether `actor` may add the existing `user` to their tenant without the user's say.

    The superuser may add anyone. A tenant admin only a user of no other tenant (and not a
    superuser): otherwise they could enlist, and so learn of, another tenant's people."""
    if actor.is_superuser:
        return True
    return not user.is_superuser and not (
        Membership.objects.filter(user=user).exclude(tenant=actor.tenant).exists())
