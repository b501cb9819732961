"""One tenant resolution path for GraphQL, downloads, uploads and the admin.

`Authorization: Bearer <access token | API token>` decides user, tenant (the token's) and
scopes; without it the session does (the admin, GraphiQL), with the tenant from the
`X-Registry-Tenant` header or the session, else the default tenant. A bearer token that is
refused never falls back to the session or to anonymous access.
"""

from django.http import HttpRequest, JsonResponse

from accounts import services, tokens
from accounts.actor import REJECTED, Actor
from accounts.errors import AccountErrorCode
from accounts.models import Tenant
from accounts.selectors import (
    actor_for,
    api_token_for,
    credential_actor,
    default_tenant,
    login_session_for,
)
from audit import services as audit

TENANT_HEADER = "HTTP_X_REGISTRY_TENANT"
SESSION_TENANT_KEY = "tenant_slug"


def actor_from_request(request: HttpRequest) -> Actor:
    """The caller of `request`, cached on it so every layer sees the same actor."""
    cached = getattr(request, "_registry_actor", None)
    if cached is None:
        cached = request._registry_actor = _resolve(request)
    return cached


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer` header; other schemes are not ours."""
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _resolve(request: HttpRequest) -> Actor:
    token = bearer_token(request)
    if token is not None:
        return actor_for_bearer(token) or REJECTED
    user = getattr(request, "user", None)
    user = user if user is not None and user.is_authenticated else None
    slug = request.META.get(TENANT_HEADER) or request.session.get(SESSION_TENANT_KEY)
    tenant = Tenant.objects.filter(slug=slug).first() if slug else default_tenant()
    if tenant is None:
        # An unknown tenant: the caller sees nothing and learns nothing.
        return Actor(user=user, tenant=None)
    if user is None:
        return anonymous_actor(tenant)
    return actor_for(user=user, tenant=tenant)


def actor_for_bearer(token: str) -> Actor | None:
    """The actor of a current access token or API token, else None."""
    parsed = tokens.parse_token(token)
    if parsed is None:
        return None
    if parsed.kind == tokens.ACCESS:
        session = login_session_for(token, kind=tokens.ACCESS)
        return session and credential_actor(session)
    if parsed.kind == tokens.API:
        api_token = api_token_for(token)
        actor = api_token and credential_actor(api_token, scopes=frozenset(api_token.scopes),
                                               token_id=api_token.pk)
        if actor is not None:
            services.api_token_touch(api_token)
        else:  # unknown, expired, revoked, or of a user no longer a member
            audit.record(action="token.refused", tenant=api_token and api_token.tenant,
                         object_kind="ApiToken", object_id=api_token.pk if api_token else "",
                         object_name=f"{parsed.kind}_{parsed.lookup}")
        return actor
    return None  # a refresh token only buys new tokens; it is not a credential


def anonymous_actor(tenant: Tenant) -> Actor:
    return Actor(user=None, tenant=tenant if tenant.allow_anonymous_read else None)


def rejected_credentials_response() -> JsonResponse:
    """What an API endpoint answers to a refused bearer token (RFC 6750), GraphQL-shaped."""
    code = AccountErrorCode.INVALID_TOKEN
    response = JsonResponse(
        {"data": None, "errors": [{"message": code.label, "extensions": {"code": code.value}}]},
        status=401,
    )
    response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response
