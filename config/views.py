from django.http import HttpRequest, HttpResponse
from strawberry.django.views import GraphQLView

from accounts.authentication import actor_from_request, rejected_credentials_response
from config.graphql_context import RegistryContext


class RegistryGraphQLView(GraphQLView):
    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # A refused bearer token answers 401 with `invalid_token` for every operation.
        if actor_from_request(request).credentials_rejected:
            return rejected_credentials_response()
        return super().dispatch(request, *args, **kwargs)

    def get_context(self, request: HttpRequest, response: HttpResponse) -> RegistryContext:
        return RegistryContext(request=request, response=response,
                               actor=actor_from_request(request))
