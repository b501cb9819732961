"""Writes of tenants, memberships, groups, logins and API tokens.

Keyword-only and atomic; errors are ValidationErrors carrying an AccountErrorCode (or the
registry's `not_found` / `permission_denied` / `read_only_token`, which mean the same here).
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate, user_logged_in
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import selectors, throttling, tokens
from accounts.actor import Actor
from accounts.errors import AccountErrorCode as Code
from accounts.errors import (
    CodedPermissionDenied,
    CodedValidationError,
    CommonErrorCode,
    not_found,
    require_scope,
)
from accounts.models import (
    ApiToken,
    LoginSession,
    Membership,
    Role,
    ScanPolicy,
    Tenant,
    TenantGroup,
    TokenScope,
    User,
    slug_validator,
)
from accounts.signals import tenant_deleting
from accounts.validators import validate_name
from audit import services as audit

# Django's own username rule, so users created here can log into the admin too.
username_validator = UnicodeUsernameValidator()
PHONE_RE = re.compile(r"^[0-9+()./ -]{0,40}\Z")
# last_used_at is written at most this often per token, not on every request.
API_TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def ensure_default_tenant(*, using: str = "default") -> Tenant:
    tenant = Tenant.objects.using(using).filter(is_default=True).first()
    if tenant is None:
        tenant, _ = Tenant.objects.using(using).get_or_create(
            slug=settings.DEFAULT_TENANT_SLUG,
            defaults={"organization": "Default organization", "is_default": True},
        )
        if not tenant.is_default:
            tenant.is_default = True
            tenant.save(using=using, update_fields=["is_default"])
    return tenant


@transaction.atomic
def membership_set(*, user: User, tenant: Tenant, role: str) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        user=user, tenant=tenant, defaults={"role": role}
    )
    return membership


@transaction.atomic
def demo_superuser_ensure(*, username: str, password: str, email: str = "") -> tuple[User, bool]:
    """The `make run` administrator: a superuser and admin of the default tenant."""
    user = User.objects.filter(username=username).first()
    created = user is None
    if created:
        user = User.objects.create_superuser(username=username, email=email, password=password)
    membership_set(user=user, tenant=ensure_default_tenant(), role=Role.ADMIN)
    return user, created


def _error(field: str | None, message: str, code: str) -> ValidationError:
    if field is None:
        return CodedValidationError(message, code=code)
    return CodedValidationError({field: message}, code=code)


def require_superuser(actor: Actor) -> None:
    require_scope(actor, TokenScope.ADMIN)
    if not actor.is_superuser:
        raise CodedPermissionDenied("Only the superuser may do this.")


def require_tenant_admin(actor: Actor) -> None:
    require_scope(actor, TokenScope.ADMIN)
    if not actor.is_tenant_admin:
        raise CodedPermissionDenied("Only tenant admins may do this.")


# --- Users ---------------------------------------------------------------------------------

def user_for_membership_check(*, username: str, password: str | None,
                              fields: tuple[str, str] = ("username", "password")) -> None:
    """Raise unless `username` exists (and no password is given) or can be created with it.

    A password never changes an existing user: a tenant admin must not be able to take over
    an account that also belongs to other tenants.
    """
    username_field, password_field = fields
    try:
        username_validator(username)
    except ValidationError as error:
        raise _error(username_field, error.messages[0], Code.INVALID_USERNAME) from error
    exists = User.objects.filter(username=username).exists()
    if exists and password:
        raise _error(password_field, f"User {username!r} exists already; omit the password.",
                     Code.USER_EXISTS)
    if not exists and not password:
        raise _no_such_user(username, username_field)
    if not exists:
        try:
            validate_password(password, User(username=username))
        except ValidationError as error:
            raise _error(password_field, " ".join(error.messages),
                         Code.INVALID_PASSWORD) from error


def _no_such_user(username: str, field: str = "username") -> CodedValidationError:
    return _error(field, f"No user {username!r}; give a password to create it.",
                  CommonErrorCode.NOT_FOUND)


def _user_for_membership(*, username: str, password: str | None,
                         fields: tuple[str, str] = ("username", "password")) -> User:
    user_for_membership_check(username=username, password=password, fields=fields)
    if password:
        return User.objects.create_user(username=username, password=password)
    return User.objects.get(username=username)


# --- Tenants (the superuser's; management commands are the operator's) ----------------------

def tenant_fields_clean(*, slug: str, organization: str, address: str = "", email: str = "",
                        phone: str = "") -> None:
    try:
        slug_validator(slug)
        if slug.endswith("\n"):  # the validator's `$` also matches before a final newline
            raise ValidationError("A slug cannot end with a newline.")
    except ValidationError as error:
        raise _error("slug", error.messages[0], Code.INVALID_SLUG) from error
    if Tenant.objects.filter(slug=slug).exists():
        raise _error("slug", f"A tenant {slug!r} exists already.", Code.DUPLICATE_SLUG)
    if not organization.strip() or len(organization) > 200:
        raise _error("organization", "Give 1-200 characters.", Code.INVALID_TENANT_FIELD)
    if len(address) > 2000:
        raise _error("address", "At most 2000 characters.", Code.INVALID_TENANT_FIELD)
    if email:
        try:
            validate_email(email)
        except ValidationError as error:
            raise _error("email", "Not an email address.", Code.INVALID_TENANT_FIELD) from error
    if not PHONE_RE.match(phone):
        raise _error("phone", "At most 40 digits, spaces and +()./-.", Code.INVALID_TENANT_FIELD)


@transaction.atomic
def tenant_create(*, slug: str, organization: str, admin_username: str,
                  admin_password: str | None = None, address: str = "", email: str = "",
                  phone: str = "") -> Tenant:
    """A new tenant and its first admin (created when `admin_password` is given)."""
    tenant_fields_clean(slug=slug, organization=organization, address=address, email=email,
                        phone=phone)
    admin = _user_for_membership(username=admin_username, password=admin_password,
                                 fields=("adminUsername", "adminPassword"))
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(slug=slug, organization=organization.strip(),
                                           address=address, email=email, phone=phone)
    except IntegrityError as error:  # lost a race with a concurrent create
        raise _error("slug", f"A tenant {slug!r} exists already.", Code.DUPLICATE_SLUG) from error
    membership_set(user=admin, tenant=tenant, role=Role.ADMIN)
    audit.record(action="create", obj=tenant, object_name=slug, system="tenant_create",
                 changes={"slug": [None, slug], "admin": [None, admin.username]})
    return tenant


@transaction.atomic
def tenant_admin_add(*, tenant: Tenant, username: str, password: str | None = None,
                     console_access: bool = False) -> Membership:
    """The admin console's half of `tenant_create`: the tenant row is saved by the form.
    `console_access` gives the admin staff status, which the admin console requires."""
    admin = _user_for_membership(username=username, password=password,
                                 fields=("adminUsername", "adminPassword"))
    if console_access and not admin.is_staff:
        admin.is_staff = True
        admin.save(update_fields=["is_staff"])
    return membership_set(user=admin, tenant=tenant, role=Role.ADMIN)


@transaction.atomic
def tenant_delete(*, tenant_id: int, confirm_slug: str) -> None:
    """Delete a tenant with all its data; its stored files are deleted after the commit."""
    tenant = Tenant.objects.select_for_update().filter(pk=tenant_id).first()
    if tenant is None:
        raise not_found()
    if tenant.is_default:
        raise _error("id", "The default tenant cannot be deleted.", Code.DEFAULT_TENANT)
    if confirm_slug != tenant.slug:
        raise _error("confirmSlug", "Repeat the tenant's slug to confirm.",
                     Code.CONFIRMATION_MISMATCH)
    tenant_deleting.send(sender=Tenant, tenant=tenant)
    audit.record(action="delete", obj=tenant, object_name=tenant.slug, system="tenant_delete")
    Group.objects.filter(tenant_group__tenant=tenant).delete()
    tenant.delete()


# Bounds of the columns (BigIntegerField, PositiveIntegerField).
TRASH_RESTORE_DAYS = (1, 365)  # as the model's validators
QUOTA_LIMITS = {"quota_bytes": ("quotaBytes", 2**63 - 1), "quota_files": ("quotaFiles", 2**31 - 1)}


@transaction.atomic
def tenant_settings_update(*, actor: Actor, tenant_id: int, scan_policy: str | None = None,
                           allow_anonymous_read: bool | None = None,
                           quota_bytes: int | None = None,
                           quota_files: int | None = None,
                           trash_enabled: bool | None = None,
                           trash_restore_days: int | None = None) -> Tenant:
    """Change a tenant's scan policy, anonymous read, trash and quotas (None: unchanged).

    Its admins set the policy, anonymous read and the trash; quotas are the operator's to
    grant, so only the superuser sets them. Another tenant answers as a missing one.
    """
    require_scope(actor, TokenScope.ADMIN)
    tenant = (selectors.tenants_visible_to(actor).select_for_update()
              .filter(pk=tenant_id).first())
    if tenant is None:
        raise not_found()
    if not (actor.is_superuser or actor.is_tenant_admin):
        raise CodedPermissionDenied("Only the tenant's admins may do this.")
    quotas = {"quota_bytes": quota_bytes, "quota_files": quota_files}
    if not actor.is_superuser and any(value is not None for value in quotas.values()):
        raise CodedPermissionDenied("Only the superuser sets quotas.")
    if scan_policy is not None and scan_policy not in ScanPolicy.values:
        raise _error("scanPolicy", f"{scan_policy!r} is not one of "
                     f"{', '.join(ScanPolicy.values)}.", CommonErrorCode.INVALID_CHOICE)
    for name, value in quotas.items():
        field, maximum = QUOTA_LIMITS[name]
        if value is not None and not 0 <= value <= maximum:
            raise _error(field, f"Give a whole number from 0 to {maximum}.", Code.INVALID_QUOTA)
    if trash_restore_days is not None and not (
            TRASH_RESTORE_DAYS[0] <= trash_restore_days <= TRASH_RESTORE_DAYS[1]):
        raise _error("trashRestoreDays", "Give a whole number of days from "
                     f"{TRASH_RESTORE_DAYS[0]} to {TRASH_RESTORE_DAYS[1]}.",
                     Code.INVALID_TRASH_RESTORE_DAYS)
    changes = {name: value for name, value in {
        "scan_policy": scan_policy, "allow_anonymous_read": allow_anonymous_read, **quotas,
        "trash_enabled": trash_enabled, "trash_restore_days": trash_restore_days,
    }.items() if value is not None}
    before = audit.snapshot(tenant, list(changes))
    for name, value in changes.items():
        setattr(tenant, name, value)
    if changes:
        tenant.save(update_fields=list(changes))
    diff = audit.diff(before, audit.snapshot(tenant, list(changes)))
    if diff:
        audit.record(actor=actor, action="update", obj=tenant, object_name=tenant.slug,
                     changes=diff)
    return tenant


# --- Memberships and groups ----------------------------------------------------------------

def _membership_in_tenant(actor: Actor, user_id: int) -> Membership:
    membership = (Membership.objects.select_for_update(of=("self",)).select_related("user")
                  .filter(tenant=actor.tenant, user_id=user_id).first())
    if membership is None:
        raise not_found("userId")
    return membership


def _validate_role(role: str) -> str:
    if role not in Role.values:
        raise _error("role", f"{role!r} is not one of {', '.join(Role.values)}.",
                     CommonErrorCode.INVALID_CHOICE)
    return role


def _keep_an_admin(membership: Membership) -> None:
    # Admin changes of one tenant run one at a time, so two admins demoting or removing each
    # other at once cannot both see the other one left.
    Tenant.objects.select_for_update().filter(pk=membership.tenant_id).first()
    if selectors.tenants_left_without_admin([membership]):
        raise _error("userId", "This is the tenant's last admin.", Code.LAST_ADMIN)


@transaction.atomic
def member_add(*, actor: Actor, username: str, role: str,
               password: str | None = None) -> Membership:
    """Add an existing user to the actor's tenant, or create one when `password` is given.

    An existing user of another tenant answers as a missing one unless the actor is the
    superuser (`selectors.user_enlistable_by`)."""
    require_tenant_admin(actor)
    _validate_role(role)
    user = _user_for_membership(username=username, password=password)
    if Membership.objects.filter(tenant=actor.tenant, user=user).exists():
        raise _error("username", f"{username!r} is a member already.", Code.ALREADY_MEMBER)
    if not selectors.user_enlistable_by(actor, user):
        raise _no_such_user(username)  # the answer for a user who does not exist
    membership = Membership.objects.create(tenant=actor.tenant, user=user, role=role)
    audit.record(actor=actor, action="member.add", obj=membership, object_name=user.username,
                 changes={"role": [None, role]})
    return membership


@transaction.atomic
def member_role_set(*, actor: Actor, user_id: int, role: str) -> Membership:
    require_tenant_admin(actor)
    _validate_role(role)
    membership = _membership_in_tenant(actor, user_id)
    if role != Role.ADMIN:
        _keep_an_admin(membership)
    previous, membership.role = membership.role, role
    membership.save(update_fields=["role"])
    if previous != role:
        audit.record(actor=actor, action="member.role", obj=membership,
                     object_name=membership.user.username, changes={"role": [previous, role]})
    return membership


@transaction.atomic
def member_remove(*, actor: Actor, user_id: int) -> None:
    """Remove a member; `accounts.receivers` drops their tokens and groups in the tenant."""
    require_tenant_admin(actor)
    membership = _membership_in_tenant(actor, user_id)
    _keep_an_admin(membership)
    audit.record(actor=actor, action="member.remove", obj=membership,
                 object_name=membership.user.username, changes={"role": [membership.role, None]})
    membership.delete()


def _group_in_tenant(actor: Actor, group_id: int) -> TenantGroup:
    group = (TenantGroup.objects.select_for_update(of=("self",)).select_related("group")
             .filter(tenant=actor.tenant, pk=group_id).first())
    if group is None:
        raise not_found("groupId")
    return group


def auth_group_name(tenant: Tenant, name: str) -> str:
    # auth.Group names are global: qualify by tenant id, which never changes.
    return f"{tenant.pk}/{name}"[:150]


def tenant_group_create(*, tenant: Tenant, name: str) -> TenantGroup:
    validate_name(name)
    if TenantGroup.objects.filter(tenant=tenant, name=name).exists():
        raise _error("name", f"{name!r} already exists in this tenant.",
                     CommonErrorCode.DUPLICATE_NAME)
    group = Group.objects.create(name=auth_group_name(tenant, name))
    return TenantGroup.objects.create(tenant=tenant, group=group, name=name)


@transaction.atomic
def group_create(*, actor: Actor, name: str) -> TenantGroup:
    require_tenant_admin(actor)
    group = tenant_group_create(tenant=actor.tenant, name=name)
    audit.record(actor=actor, action="group.create", obj=group, object_name=name)
    return group


@transaction.atomic
def group_delete(*, actor: Actor, group_id: int) -> None:
    require_tenant_admin(actor)
    group = _group_in_tenant(actor, group_id)
    audit.record(actor=actor, action="group.delete", obj=group, object_name=group.name)
    group.group.delete()  # cascades to the TenantGroup


@transaction.atomic
def group_member_add(*, actor: Actor, group_id: int, user_id: int) -> TenantGroup:
    require_tenant_admin(actor)
    group = _group_in_tenant(actor, group_id)
    user = _membership_in_tenant(actor, user_id).user
    group.group.user_set.add(user)
    audit.record(actor=actor, action="group.member.add", obj=group, object_name=group.name,
                 changes={"members": [None, user.username]})
    return group


@transaction.atomic
def group_member_remove(*, actor: Actor, group_id: int, user_id: int) -> TenantGroup:
    require_tenant_admin(actor)
    group = _group_in_tenant(actor, group_id)
    user = User.objects.filter(pk=user_id, groups=group.group).first()
    if user is None:
        raise not_found("userId")
    group.group.user_set.remove(user)
    audit.record(actor=actor, action="group.member.remove", obj=group, object_name=group.name,
                 changes={"members": [user.username, None]})
    return group


# --- Logins --------------------------------------------------------------------------------

@dataclass(frozen=True)
class IssuedTokens:
    session: LoginSession
    access_token: str
    refresh_token: str


def _invalid_credentials() -> ValidationError:
    # One error for every cause, so callers cannot tell which usernames exist.
    return _error(None, "Invalid username, password or tenant.", Code.INVALID_CREDENTIALS)


def invalid_token() -> ValidationError:
    return _error(None, "The token is invalid, expired or revoked; log in again.",
                  Code.INVALID_TOKEN)


def login(*, username: str, password: str, tenant_slug: str | None,
          client_address: str) -> IssuedTokens:
    """Tokens for `username` in the tenant `tenant_slug` (the default tenant when None)."""
    if not throttling.login_allowed(username=username, address=client_address):
        raise _error(None, "Too many failed logins; try again later.", Code.TOO_MANY_ATTEMPTS)
    # authenticate() hashes the password even for unknown users: equal timing too.
    user = authenticate(username=username, password=password)
    tenant = (Tenant.objects.filter(slug=tenant_slug).first() if tenant_slug
              else selectors.default_tenant())
    if user is None or tenant is None or selectors.token_actor(user=user, tenant=tenant) is None:
        throttling.login_failed(username=username, address=client_address)
        raise _invalid_credentials()
    throttling.login_succeeded(username=username)
    issued = _tokens_issue(user=user, tenant=tenant)
    user_logged_in.send(sender=User, request=None, user=user)  # records last_login
    return issued


def _tokens_issue(*, user: User, tenant: Tenant) -> IssuedTokens:
    now = timezone.now()
    lookup = tokens.new_lookup()
    access_token = tokens.new_token(tokens.ACCESS, lookup)
    refresh_token = tokens.new_token(tokens.REFRESH, lookup)
    session = LoginSession.objects.create(
        user=user, tenant=tenant, lookup=lookup,
        access_hash=tokens.token_hash(access_token),
        refresh_hash=tokens.token_hash(refresh_token),
        credential_hash=user.get_session_auth_hash(),
        access_expires_at=now + settings.ACCESS_TOKEN_LIFETIME,
        refresh_expires_at=now + settings.REFRESH_TOKEN_LIFETIME,
    )
    return IssuedTokens(session=session, access_token=access_token, refresh_token=refresh_token)


def expired_logins_purge() -> int:
    """Delete the logins that can no longer be refreshed; how many."""
    deleted, _ = LoginSession.objects.filter(refresh_expires_at__lte=timezone.now()).delete()
    return deleted


@transaction.atomic
def token_refresh(*, refresh_token: str) -> IssuedTokens:
    """A new token pair for a current refresh token; the old pair stops working (rotation)."""
    session = selectors.login_session_for(refresh_token, kind=tokens.REFRESH, lock=True)
    if session is None or selectors.token_actor(user=session.user,
                                                tenant=session.tenant) is None:
        raise invalid_token()
    session.delete()
    return _tokens_issue(user=session.user, tenant=session.tenant)


@transaction.atomic
def logout(*, token: str) -> bool:
    """Revoke the login an access or refresh token belongs to; False if there was none.

    Expired tokens are accepted: logging out must work after the access token lapsed.
    """
    parsed = tokens.parse_token(token)
    if parsed is None or parsed.kind not in (tokens.ACCESS, tokens.REFRESH):
        return False
    session = LoginSession.objects.filter(lookup=parsed.lookup).first()
    stored_hash = session and (session.access_hash if parsed.kind == tokens.ACCESS
                               else session.refresh_hash)
    if session is None or not tokens.token_matches(token, stored_hash):
        return False
    session.delete()
    return True


# --- API tokens ----------------------------------------------------------------------------

@transaction.atomic
def api_token_create(*, actor: Actor, name: str, scopes: list[str],
                     expires_at: datetime | None = None) -> tuple[ApiToken, str]:
    """A new API token of the actor in their tenant, and its secret (shown only now)."""
    require_scope(actor, TokenScope.ADMIN)
    if actor.user is None or actor.tenant is None:
        raise CodedPermissionDenied("Log in to create API tokens.")
    # Refused rather than trimmed: the name a client reads back is the one it sent.
    if (not name or len(name) > 100 or name != name.strip()
            or any(unicodedata.category(ch) == "Cc" for ch in name)):
        raise _error("name", "Give 1-100 characters, without surrounding spaces or control "
                             "characters.", CommonErrorCode.INVALID_NAME)
    if not scopes or not set(scopes) <= set(TokenScope.values):
        raise _error("scopes", "Give one or more of read, write, admin.", Code.INVALID_SCOPE)
    now = timezone.now()
    expires_at = expires_at or now + settings.API_TOKEN_DEFAULT_LIFETIME
    if not now < expires_at <= now + settings.API_TOKEN_MAX_LIFETIME:
        raise _error("expiresAt", "Must be in the future and at most "
                     f"{settings.API_TOKEN_MAX_LIFETIME.days} days away.", Code.INVALID_EXPIRY)
    lookup = tokens.new_lookup()
    secret = tokens.new_token(tokens.API, lookup)
    api_token = ApiToken.objects.create(
        user=actor.user, tenant=actor.tenant, name=name, lookup=lookup,
        secret_hash=tokens.token_hash(secret),
        scopes=[scope for scope in TokenScope.values if scope in scopes], expires_at=expires_at,
    )
    audit.record(actor=actor, action="token.create", obj=api_token, object_name=name, changes={
        "name": [None, name], "scopes": [None, api_token.scopes],
        "expires_at": [None, expires_at.isoformat()]})
    return api_token, secret


@transaction.atomic
def api_token_revoke(*, actor: Actor, token_id: int) -> None:
    """Delete one of the actor's tokens (tenant admins: any token of the tenant)."""
    require_scope(actor, TokenScope.ADMIN)
    api_token = selectors.api_tokens_visible_to(actor).filter(pk=token_id).first()
    if api_token is None:
        raise not_found()
    audit.record(actor=actor, action="token.revoke", obj=api_token, object_name=api_token.name)
    api_token.delete()


def api_token_touch(api_token: ApiToken) -> None:
    now = timezone.now()
    if api_token.last_used_at is None or now - api_token.last_used_at >= API_TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
        api_token.last_used_at = now
