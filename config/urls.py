from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import TemplateView

from config.health import health
from config.metrics import metrics_view
from config.schema import schema
from config.views import RegistryGraphQLView

urlpatterns = [
    path("", TemplateView.as_view(template_name="landing.html"), name="landing"),
    path("admin/", admin.site.urls),
    # Token-authenticated API clients send no CSRF cookie; the session path is protected by
    # SameSite cookies and the JSON/multipart content types GraphQL requires.
    path("graphql/", csrf_exempt(RegistryGraphQLView.as_view(
        schema=schema, graphql_ide="graphiql", multipart_uploads_enabled=True,
    )), name="graphql"),
    path("health/", health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("", include("mlflow_compat.urls")),  # the MLflow Model Registry REST API
    path("", include("registry.urls")),
    path("", include("audit.urls")),
    path("", include("usage.urls")),
]
