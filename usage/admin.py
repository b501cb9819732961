from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts.admin import TenantScopedAdminMixin

from .models import DailyUsage


@admin.register(DailyUsage)
class DailyUsageAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """The counts: read only, written by the download and upload paths alone."""

    list_display = ["day", "file", "caller", "user", "token", "pulls", "pushes",
                    "last_pulled_at"]
    list_filter = ["day"]
    list_select_related = ["file", "user", "token"]
    search_fields = ["file__path", "caller"]
    date_hierarchy = "day"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        links = format_html('Report of your tenant, most pulled first: <a href="{}">CSV</a> · '
                            '<a href="{}">JSON</a>', reverse("usage:report", args=["csv"]),
                            reverse("usage:report", args=["json"]))
        return super().changelist_view(request, {"title": "Daily usage", "subtitle": links,
                                                 **(extra_context or {})})
