from django.urls import path, re_path

from mlflow_compat import views

app_name = "mlflow_compat"
urlpatterns = [
    path("api/2.0/mlflow/<path:path>", views.api, name="api"),
    path("ajax-api/2.0/mlflow/<path:path>", views.api, name="ajax-api"),
    path("api/2.0/mlflow-artifacts/artifacts", views.artifacts_list, name="artifacts-list"),
    path("api/2.0/mlflow-artifacts/artifacts/<path:path>", views.artifact_download,
         name="artifact-download"),
    path("api/3.0/mlflow/server-info", views.server_info, name="server-info"),
    # Every other MLflow path answers in MLflow's error shape.
    re_path(r"^(?:ajax-)?api/[0-9.]+/mlflow", views.not_found_endpoint),
]
