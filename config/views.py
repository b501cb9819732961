from django.http import HttpRequest, HttpResponse
from strawberry.django.views import GraphQLView

from accounts.authentication import actor_from_request
from config.graphql_context import RegistryContext


class RegistryGraphQLView(GraphQLView):
    def get_context(self, request: HttpRequest, response: HttpResponse) -> RegistryContext:
        return RegistryContext(request=request, response=response,
                               actor=actor_from_request(request))
