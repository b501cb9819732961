"""Sentry: unexpected exceptions in requests, resolvers and tasks, never a caller's mistake.

Each request's events carry its request id as a tag (set by RequestIdMiddleware); PII is off.
"""

import logging

import sentry_sdk
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from graphql import GraphQLError
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.integrations.logging import LoggingIntegration, ignore_logger
from sentry_sdk.integrations.strawberry import StrawberryIntegration

# Exceptions that mean the caller asked for something wrong or not theirs; they are answered
# with a code and are not a defect of the registry.
CALLER_MISTAKES = (ValidationError, PermissionDenied, ObjectDoesNotExist)


def is_caller_mistake(exception: BaseException) -> bool:
    if isinstance(exception, GraphQLError):
        # No original error: the document itself was refused (syntax, validation, limits).
        original = exception.original_error
        return original is None or isinstance(original, CALLER_MISTAKES)
    return isinstance(exception, CALLER_MISTAKES)


def drop_caller_mistakes(event: dict, hint: dict) -> dict | None:
    exc_info = hint.get("exc_info")
    if exc_info and is_caller_mistake(exc_info[1]):
        return None
    return event


def init_sentry(dsn: str, *, environment: str, release: str, traces_sample_rate: float) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        traces_sample_rate=traces_sample_rate,
        # No personal data, and nothing that may hold a credential: frames' local variables
        # and request bodies carry tokens, passwords and user rows; cookies carry sessions.
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_bodies": [],
            "graphql": {"document": True, "variables": False},
            "url_query_params": {"mode": "off"},
            "stack_frame_variables": False,
            "database_query_data": False,
        },
        integrations=[
            DjangoIntegration(),
            CeleryIntegration(),
            StrawberryIntegration(async_execution=False),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        before_send=drop_caller_mistakes,
    )
    # strawberry logs every error it returns; the Strawberry integration reports the
    # unexpected ones already, once each.
    ignore_logger("strawberry.execution")
