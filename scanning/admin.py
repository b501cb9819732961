from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from accounts.admin import TenantScopedAdminMixin
from accounts.selectors import actor_for
from registry.admin import ArtifactFileAdmin
from registry.models import ArtifactFile
from scanning import services
from scanning.models import ScanFinding, ScanRelease, ScanReport

REPORT_FIELDS = ["started_at", "verdict", "scanner", "scanner_version", "detected_format",
                 "error", "finished_at", "duration_seconds"]


class ReadOnlyInline(TenantScopedAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return self.fields


class ScanFindingInline(ReadOnlyInline):
    model = ScanFinding
    fields = ["severity", "code", "message", "location"]


class ScanReportInline(ReadOnlyInline):
    model = ScanReport
    fields = REPORT_FIELDS
    show_change_link = True


class ScanReleaseInline(ReadOnlyInline):
    model = ScanRelease
    fields = ["created_at", "released_by", "reason", "report"]


@admin.register(ScanReport)
class ScanReportAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """Reports are evidence: viewable, never edited."""

    list_display = ["file", "verdict", "scanner", "scanner_version", "detected_format",
                    "trigger", "started_at", "duration_seconds", "worker"]
    list_filter = ["verdict", "findings__severity", "trigger", "scanner", "scanner_version",
                   "file__tenant"]
    search_fields = ["file__path", "file__sha256", "findings__code"]
    list_select_related = ["file"]
    date_hierarchy = "started_at"
    inlines = [ScanFindingInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ScanRelease)
class ScanReleaseAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["file", "released_by", "reason", "created_at"]
    list_filter = ["file__tenant"]
    search_fields = ["file__path", "reason", "released_by__username"]
    list_select_related = ["file", "released_by"]

    def has_add_permission(self, request) -> bool:
        return False  # releases go through the action on files, which checks the policy

    def has_change_permission(self, request, obj=None) -> bool:
        return False


admin.site.unregister(ArtifactFile)


@admin.register(ArtifactFile)
class ScannedArtifactFileAdmin(ArtifactFileAdmin):
    """The registry's file admin, with the file's scans and the rescan and release actions."""

    inlines = [*ArtifactFileAdmin.inlines, ScanReportInline, ScanReleaseInline]
    actions = [*ArtifactFileAdmin.actions, "rescan_files", "release_files"]

    @admin.action(description="Rescan the selected files")
    def rescan_files(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, "queued for a scan", lambda actor, artifact:
                    services.file_rescan(actor=actor, file_id=artifact.pk))

    @admin.action(description="Release the selected flagged files…")
    def release_files(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        if "apply" not in request.POST:
            return TemplateResponse(request, "admin/scanning/release_files.html", {
                **self.admin_site.each_context(request),
                "title": "Release flagged files",
                "opts": self.model._meta,
                "files": queryset,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            })
        reason = request.POST.get("reason", "")
        self._apply(request, queryset, "released", lambda actor, artifact:
                    services.file_release(actor=actor, file_id=artifact.pk, reason=reason))
        return None

    def _apply(self, request: HttpRequest, queryset: QuerySet, done: str, operation) -> None:
        """Run `operation` per file as the admin user acting in the file's tenant."""
        succeeded = 0
        for artifact in queryset.select_related("tenant"):
            try:
                operation(actor_for(user=request.user, tenant=artifact.tenant), artifact)
                succeeded += 1
            except (ValidationError, PermissionDenied) as error:
                why = (" ".join(error.messages) if isinstance(error, ValidationError)
                       else str(error))
                self.message_user(request, f"{artifact.path}: {why}", messages.ERROR)
        if succeeded:
            self.message_user(request, f"{succeeded} file(s) {done}.", messages.SUCCESS)
