from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from strawberry.django.views import GraphQLView
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from accounts.authentication import actor_from_request, rejected_credentials_response
from config.graphql_context import RegistryContext
from config.graphql_limits import ApiErrorCode, limit_error_code, without_suggestions


class DocumentTooLarge(Exception):
    pass


def api_error_response(code: ApiErrorCode, status: int) -> JsonResponse:
    return JsonResponse(
        {"data": None, "errors": [{"message": code.label, "extensions": {"code": code.value}}]},
        status=status,
    )


class RegistryGraphQLView(GraphQLView):
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # A refused bearer token answers 401 with `invalid_token` for every operation.
        if actor_from_request(request).credentials_rejected:
            return rejected_credentials_response()
        try:
            return super().dispatch(request, *args, **kwargs)
        except DocumentTooLarge:
            return api_error_response(ApiErrorCode.DOCUMENT_TOO_LARGE, status=413)

    def parse_http_body(self, request) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = super().parse_http_body(request)
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
        hide_suggestions = (not settings.GRAPHQL_ANONYMOUS_INTROSPECTION
                            and actor_from_request(request).user is None)
        for error in response.get("errors") or []:
            extensions = error.setdefault("extensions", {})
            if "code" not in extensions and (code := limit_error_code(error["message"])):
                extensions["code"] = code.value
            if hide_suggestions:
                error["message"] = without_suggestions(error["message"])
        return response
