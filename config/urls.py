from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from config.health import health
from config.schema import schema
from config.views import RegistryGraphQLView

urlpatterns = [
    path("admin/", admin.site.urls),
    # Token-authenticated API clients send no CSRF cookie; the session path is protected by
    # SameSite cookies and the JSON/multipart content types GraphQL requires.
    path("graphql/", csrf_exempt(RegistryGraphQLView.as_view(
        schema=schema, graphql_ide="graphiql", multipart_uploads_enabled=True,
    ))),
    path("health/", health, name="health"),
    path("", include("registry.urls")),
]
