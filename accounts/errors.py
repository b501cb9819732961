"""Error codes, and the coded refusals every app shares (accounts is the base app: registry
and scanning build on it, never the other way round)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models

from accounts.actor import Actor


class CommonErrorCode(models.TextChoices):
    """Codes any app's operation may answer; the label is the description clients see."""

    NOT_FOUND = "not_found", "The object does not exist or is not visible to you."
    PERMISSION_DENIED = "permission_denied", "You may not perform this operation."
    READ_ONLY_TOKEN = "read_only_token", "The token's scopes do not allow this operation."
    INVALID_CHOICE = "invalid_choice", "The value is not one of the allowed choices."
    INVALID_NAME = "invalid_name", "The name has characters or a length that are not allowed."
    DUPLICATE_NAME = "duplicate_name", "The name is already taken in this tenant."


class CodedValidationError(ValidationError):
    """A ValidationError whose code reaches every field of a `{field: message}` dict.

    Django keeps `code` only for plain messages; clients need it on each field message.
    """

    def __init__(self, message, code=None, params=None) -> None:
        if isinstance(message, dict) and code is not None:
            message = {field: text if isinstance(text, ValidationError)
                       else ValidationError(text, code=code, params=params)
                       for field, text in message.items()}
        super().__init__(message, code, params)


class CodedPermissionDenied(PermissionDenied):
    """A refusal that clients see as an `OperationInfo` message of kind PERMISSION, with a code."""

    def __init__(self, message: str, code: str = CommonErrorCode.PERMISSION_DENIED) -> None:
        super().__init__(message)
        self.code = code


def not_found(field_name: str = "id") -> CodedValidationError:
    # Forbidden and missing look the same, so nothing leaks across visibility or tenants.
    return CodedValidationError({field_name: "Not found."}, code=CommonErrorCode.NOT_FOUND)


def require_scope(actor: Actor, scope: str = "write") -> None:
    if not actor.has_scope(scope):
        raise CodedPermissionDenied("This token's scopes do not allow changes.",
                                    code=CommonErrorCode.READ_ONLY_TOKEN)


class AccountErrorCode(models.TextChoices):
    """Codes of tenants, logins, tokens and memberships; the label is the description."""

    INVALID_CREDENTIALS = (
        "invalid_credentials",
        "Unknown username, wrong password, inactive user, or no access to the tenant.",
    )
    TOO_MANY_ATTEMPTS = (
        "too_many_attempts", "Too many failed logins for this account or address; wait a while."
    )
    INVALID_TOKEN = (
        "invalid_token",
        "The bearer or refresh token is malformed, expired, revoked, or no longer valid for its "
        "user (deactivated, removed from the tenant, password changed).",
    )
    INVALID_SCOPE = "invalid_scope", "Token scopes must be one or more of read, write, admin."
    INVALID_EXPIRY = "invalid_expiry", "The expiry is in the past or beyond the allowed lifetime."
    INVALID_SLUG = "invalid_slug", "Use 1-63 lowercase letters, digits and inner hyphens."
    DUPLICATE_SLUG = "duplicate_slug", "A tenant with this slug already exists."
    INVALID_TENANT_FIELD = (
        "invalid_tenant_field", "An organization, address, email or phone value is not valid."
    )
    DEFAULT_TENANT = "default_tenant", "The default tenant cannot be deleted."
    CONFIRMATION_MISMATCH = (
        "confirmation_mismatch", "The confirmation does not repeat the tenant's slug."
    )
    INVALID_USERNAME = "invalid_username", "Usernames are 1-150 letters, digits and @.+-_."
    INVALID_PASSWORD = "invalid_password", "The password is too short or too common."
    USER_EXISTS = (
        "user_exists", "The user exists already; omit the password to use the existing user."
    )
    ALREADY_MEMBER = "already_member", "The user is a member of this tenant already."
    LAST_ADMIN = "last_admin", "A tenant keeps at least one admin."
    INVALID_TRASH_RESTORE_DAYS = (
        "invalid_trash_restore_days", "The trash's restore window is 1 to 365 days."
    )
    INVALID_QUOTA = (
        "invalid_quota", "A quota is a whole number from 0 (bytes up to 2^63-1, files up to "
        "2^31-1)."
    )
