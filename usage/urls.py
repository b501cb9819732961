from django.urls import path

from . import views

app_name = "usage"
urlpatterns = [
    path("usage/report.<str:fmt>", views.usage_report, name="report"),
]
