"""The trail in the admin console, per tenant: read-only for everyone, the superuser
included (entries leave only by the retention purge)."""

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import TenantScopedAdminMixin
from audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "tenant_slug", "actor_name", "action", "object_kind",
                    "object_name", "request_id", "client_address"]
    list_filter = ["action", "actor_kind", "object_kind"]
    search_fields = ["actor_name", "object_name", "object_id", "request_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
