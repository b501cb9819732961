from django.db import models


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
