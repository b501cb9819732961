"""Middleware that gives every log line of a request its request id and its caller."""

import re
import uuid

import sentry_sdk
import structlog
from django.http import HttpRequest, HttpResponse

from accounts import tokens
from accounts.authentication import actor_from_request, bearer_token

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_META = "HTTP_X_REQUEST_ID"
# A caller's id is kept when it is a plain token; anything else (long, spaces, control
# characters) is replaced rather than written into every line.
ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIdMiddleware:
    """Keeps the caller's X-Request-ID when it is a plain token, else makes one, and returns
    it on the response. It runs before django-structlog's RequestMiddleware, which binds the
    id (read from the request's META) to every line and to the tasks the request queues."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request.META.get(REQUEST_ID_META, "")
        if not ACCEPTED_REQUEST_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex
            request.META[REQUEST_ID_META] = request_id
        sentry_sdk.set_tag("request_id", request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


def token_label(token: str) -> str:
    """A bearer token's kind and lookup: names it in a log line without granting anything."""
    parsed = tokens.parse_token(token)
    return f"{parsed.kind}_{parsed.lookup}" if parsed else "unrecognised"


class CallerLogContextMiddleware:
    """Names the caller in every line of the request: tenant slug, user id and token label.
    Placed after authentication and before django-structlog's RequestMiddleware, so its
    request_started line has them too."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        actor = actor_from_request(request)
        token = bearer_token(request)
        structlog.contextvars.bind_contextvars(
            tenant=actor.tenant.slug if actor.tenant else None,
            user_id=actor.user.pk if actor.user else None,
            token=token_label(token) if token else None,
        )
        return self.get_response(request)
