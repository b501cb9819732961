"""The admin console's site: its index is a dashboard of each tenant the user administers."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.http import urlencode

from accounts.authentication import actor_from_request
from accounts.models import Tenant
from registry.models import ArtifactFile, ScanStatus, UploadSession
from registry.selectors import TenantActivity, tenants_activity

# The superuser's dashboard shows this many tenants (default first, then by slug); the
# tenant list has them all.
DASHBOARD_TENANTS = 20


def dashboard_tenants(request: HttpRequest) -> list[Tenant]:
    # accounts.admin registers its ModelAdmins on this site: imported once the site exists.
    from accounts.admin import admin_tenant

    if request.user.is_superuser:
        return list(Tenant.objects.order_by("-is_default", "slug")[:DASHBOARD_TENANTS])
    tenant = admin_tenant(request)
    return [] if tenant is None else [tenant]


def _percent(part: int, whole: int) -> int:
    return min(100, round(100 * part / whole)) if whole > 0 else 100 if part else 0


def _changelist(model, request: HttpRequest, tenant: Tenant, **filters) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    if request.user.is_superuser:  # a tenant admin's lists hold only their tenant already
        filters["tenant__id__exact"] = tenant.pk
    return f"{url}?{urlencode(filters)}"


def tenant_panel(activity: TenantActivity, request: HttpRequest) -> dict:
    """The template's view of one tenant: human units, bar heights and links."""
    tenant = activity.tenant
    peak = max([max(pushed, pulled) for _, pushed, pulled in activity.daily] + [1])
    return {
        "tenant": tenant,
        "storage": {
            "used": filesizeformat(activity.stored_bytes),
            "quota": filesizeformat(tenant.quota_bytes),
            "percent": _percent(activity.stored_bytes, tenant.quota_bytes),
            "files": activity.stored_files, "quota_files": tenant.quota_files,
            "files_percent": _percent(activity.stored_files, tenant.quota_files),
        },
        "scan_statuses": [
            {"status": status, "label": label, "count": activity.files_by_scan_status[status],
             "url": _changelist(ArtifactFile, request, tenant, scan_status__exact=status)}
            for status, label in ScanStatus.choices],
        "pending_scans": activity.files_by_scan_status[ScanStatus.PENDING],
        "uploads": {"count": activity.open_uploads,
                    "size": filesizeformat(activity.open_upload_bytes),
                    "url": _changelist(UploadSession, request, tenant)},
        "daily": [{"day": day, "pushed": pushed, "pulled": pulled,
                   "pushed_height": _percent(pushed, peak),
                   "pulled_height": _percent(pulled, peak)}
                  for day, pushed, pulled in activity.daily],
        "pushed_total": sum(pushed for _, pushed, _ in activity.daily),
        "pulled_total": sum(pulled for _, _, pulled in activity.daily),
        "recent_flagged": activity.recent_flagged,
        # The report is of the tenant the request acts in, so only its panel links to it.
        "usage_report": {fmt: reverse("usage:report", args=[fmt]) for fmt in ("csv", "json")}
        if actor_from_request(request).tenant == tenant else None,
    }


class RegistryAdminSite(admin.AdminSite):
    site_header = "Model registry"
    site_title = "Model registry"
    index_title = "Dashboard"
    index_template = "admin/registry_dashboard.html"

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        panels = [tenant_panel(activity, request)
                  for activity in tenants_activity(dashboard_tenants(request))]
        return super().index(request, {"tenant_panels": panels, **(extra_context or {})})
