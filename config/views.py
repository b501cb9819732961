import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from strawberry import relay
from strawberry.django.views import GraphQLView
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from accounts.authentication import actor_from_request, rejected_credentials_response
from accounts.errors import AccountErrorCode, CommonErrorCode
from config import response_cache
from config.graphql_context import RegistryContext
from config.graphql_limits import ApiErrorCode, limit_error_code, without_suggestions
from config.metrics import ERRORS, RESPONSE_CACHE_HITS
from config.user_patterns import user_pattern_statement_timeout

# Deeper JSON than this (variables, extensions) is refused before graphql-core walks it.
MAX_JSON_DEPTH = 64


class DocumentTooLarge(Exception):
    pass


class InvalidRequest(Exception):
    """A body that is not UTF-8 JSON, or nests deeper than MAX_JSON_DEPTH."""


def json_depth_exceeds(value: object, limit: int) -> bool:
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            pending.extend((child, depth + 1)
                           for child in (item.values() if isinstance(item, dict) else item))
    return False


def api_error_response(code: ApiErrorCode, status: int) -> JsonResponse:
    ERRORS.labels(code.value).inc()
    return JsonResponse(
        {"data": None, "errors": [{"message": code.label, "extensions": {"code": code.value}}]},
        status=status,
    )


class RegistryGraphQLView(GraphQLView):
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # A refused bearer token answers 401 with `invalid_token` for every operation.
        actor = actor_from_request(request)
        if actor.credentials_rejected:
            ERRORS.labels(AccountErrorCode.INVALID_TOKEN.value).inc()
            return rejected_credentials_response()
        try:
            cached = response_cache.lookup(request, actor)
            if cached is not None and cached.hit is not None:
                RESPONSE_CACHE_HITS.inc()  # not in the operation counts: nothing was executed
                return response_cache.hit_response(cached)
            with connection.execute_wrapper(user_pattern_statement_timeout):
                response = super().dispatch(request, *args, **kwargs)
            if cached is not None:
                response_cache.store(cached, response,
                                     had_errors=getattr(request, "graphql_had_errors", True))
            return response
        except DocumentTooLarge:
            return api_error_response(ApiErrorCode.DOCUMENT_TOO_LARGE, status=413)
        except RequestDataTooBig:  # over DATA_UPLOAD_MAX_MEMORY_SIZE (files do not count)
            return api_error_response(ApiErrorCode.REQUEST_TOO_LARGE, status=413)
        except InvalidRequest:
            return api_error_response(ApiErrorCode.INVALID_REQUEST, status=400)

    def decode_json(self, data: str | bytes) -> object:
        try:
            decoded = json.loads(data)
        except (ValueError, RecursionError) as error:  # JSON, UTF-8, or nesting
            raise InvalidRequest from error
        if json_depth_exceeds(decoded, MAX_JSON_DEPTH):
            raise InvalidRequest
        return decoded

    def parse_http_body(self, request) -> GraphQLRequestData | list[GraphQLRequestData]:
        try:
            data = super().parse_http_body(request)
        except UnicodeDecodeError as error:  # the adapter decodes the body before JSON does
            raise InvalidRequest from error
        for operation in data if isinstance(data, list) else [data]:
            if len((operation.query or "").encode()) > settings.GRAPHQL_MAX_DOCUMENT_BYTES:
                raise DocumentTooLarge
        return data

    def get_context(self, request: HttpRequest, response: HttpResponse) -> RegistryContext:
        return RegistryContext(request=request, response=response,
                               actor=actor_from_request(request))

    def process_result(self, request: HttpRequest, result: ExecutionResult
                       ) -> GraphQLHTTPResponse:
        response = super().process_result(request, result)
        request.graphql_had_errors = bool(result.errors)
        hide_suggestions = (not settings.GRAPHQL_ANONYMOUS_INTROSPECTION
                            and actor_from_request(request).user is None)
        for error, raised in zip(response.get("errors") or [], result.errors or [],
                                 strict=True):
            extensions = error.setdefault("extensions", {})
            if "code" not in extensions:
                _code_of_resolver_error(error, raised.original_error)
            if "code" not in extensions and (code := limit_error_code(error["message"])):
                extensions["code"] = code.value
            ERRORS.labels(extensions.get("code", "graphql_error")).inc()
            if hide_suggestions:
                error["message"] = without_suggestions(error["message"])
        return response


def _code_of_resolver_error(error: dict, original: Exception | None) -> None:
    """A query's refusal with a code, not the exception's text: a malformed global id is
    `not_found` like any id the caller may not see; a coded ValidationError keeps its code."""
    if isinstance(original, relay.GlobalIDValueError):
        error["message"] = "Not found."
        error["extensions"]["code"] = CommonErrorCode.NOT_FOUND.value
    elif isinstance(original, ValidationError):
        details = ([detail for details in original.error_dict.values() for detail in details]
                   if hasattr(original, "error_dict") else original.error_list)
        if details and details[0].code:
            error["message"] = " ".join(details[0].messages)
            error["extensions"]["code"] = str(details[0].code)
