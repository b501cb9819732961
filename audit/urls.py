from django.urls import path

from audit import views

app_name = "audit"
urlpatterns = [
    path("audit/export.csv", views.audit_export, {"fmt": "csv"}, name="export-csv"),
    path("audit/export.json", views.audit_export, {"fmt": "json"}, name="export-json"),
]
