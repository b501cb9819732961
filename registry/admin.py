from django.contrib import admin
from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat
from guardian.admin import GuardedModelAdmin

from accounts.admin import TenantScopedAdminMixin
from registry import models, selectors


@admin.display(description="size", ordering="size")
def human_size(obj) -> str:
    return filesizeformat(obj.size)


class ArtifactFileInline(TenantScopedAdminMixin, admin.TabularInline):
    model = models.ArtifactFile
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["path", human_size, "sha256", "content_type", "scan_status", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # bytes arrive through the upload API, which hashes and scans them


class ModelVersionInline(TenantScopedAdminMixin, admin.TabularInline):
    model = models.ModelVersion
    extra = 0
    show_change_link = True
    fields = ["version", "state", "precision", "created_by", "created_at"]
    readonly_fields = ["version", "created_by", "created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class DatasetVersionInline(ModelVersionInline):
    model = models.DatasetVersion
    fields = ["version", "state", "created_by", "created_at"]


class ModelMetadataInline(TenantScopedAdminMixin, admin.TabularInline):
    model = models.ModelMetadata
    extra = 0
    autocomplete_fields = ["key"]


class DatasetMetadataInline(ModelMetadataInline):
    model = models.DatasetMetadata


class ModelAliasInline(TenantScopedAdminMixin, admin.TabularInline):
    model = models.ModelAlias
    extra = 0
    fields = ["name", "version", "updated_at"]
    readonly_fields = ["updated_at"]


class CatalogEntryAdmin(TenantScopedAdminMixin, GuardedModelAdmin):
    list_display = ["name", "tenant", "owner", "status", "visibility", "category",
                    "architecture", "updated_at"]
    list_filter = ["tenant", "status", "visibility", "category", "framework"]
    search_fields = ["name", "project_name", "description"]
    list_select_related = ["tenant", "owner"]
    autocomplete_fields = ["owner", "tags"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "created_at"


@admin.register(models.RegisteredModel)
class RegisteredModelAdmin(CatalogEntryAdmin):
    inlines = [ModelVersionInline, ModelAliasInline, ModelMetadataInline]
    filter_horizontal = ["datasets"]


@admin.register(models.Dataset)
class DatasetAdmin(CatalogEntryAdmin):
    inlines = [DatasetVersionInline, DatasetMetadataInline]


class VersionAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "state", "created_by", "created_at"]
    list_filter = ["state"]
    readonly_fields = ["version_major", "version_minor", "version_patch", "version_prerelease",
                       "created_by", "created_at", "updated_at"]
    inlines = [ArtifactFileInline]


@admin.register(models.ModelVersion)
class ModelVersionAdmin(VersionAdmin):
    list_display = ["model", "version", "precision", "state", "created_by", "created_at"]
    search_fields = ["model__name", "version"]
    list_select_related = ["model", "created_by"]
    raw_id_fields = ["model"]


@admin.register(models.DatasetVersion)
class DatasetVersionAdmin(VersionAdmin):
    list_display = ["dataset", "version", "state", "created_by", "created_at"]
    search_fields = ["dataset__name", "version"]
    list_select_related = ["dataset", "created_by"]
    raw_id_fields = ["dataset"]


@admin.register(models.ArtifactFile)
class ArtifactFileAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["path", "model_version", "dataset_version", human_size, "scan_status",
                    "created_at"]
    list_filter = ["scan_status", "tenant"]
    search_fields = ["path", "sha256"]
    list_select_related = ["model_version__model", "dataset_version__dataset"]
    readonly_fields = ["tenant", "model_version", "dataset_version", "path", "blob", "size",
                       "sha256", "content_type", "scanner_version", "uploaded_by",
                       "created_at", "last_downloaded_at"]

    def has_add_permission(self, request) -> bool:
        return False


class VocabularyAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "tenant", "usage", "usage_count", "created_at"]
    list_filter = ["usage", "tenant"]
    search_fields = ["name"]

    @admin.display(description="usage count", ordering="usage_count")
    def usage_count(self, obj) -> int:
        return obj.usage_count


@admin.register(models.Tag)
class TagAdmin(VocabularyAdmin):
    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).annotate(
            usage_count=selectors.tag_usage_count_expression()
        )


@admin.register(models.MetadataKey)
class MetadataKeyAdmin(VocabularyAdmin):
    def get_queryset(self, request) -> QuerySet:
        return super().get_queryset(request).annotate(
            usage_count=selectors.metadata_key_usage_count_expression()
        )


@admin.register(models.Blob)
class BlobAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["sha256", "tenant", human_size, "created_at", "last_verified_at",
                    "integrity_error"]
    list_filter = ["tenant"]
    search_fields = ["sha256", "storage_key"]
    readonly_fields = ["tenant", "sha256", "size", "storage_key", "created_at",
                       "last_verified_at", "integrity_error"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(models.UploadSession)
class UploadSessionAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["path", "tenant", "state", human_size, "part_count", "created_by",
                    "created_at", "expires_at"]
    list_filter = ["state", "tenant"]
    readonly_fields = [f.name for f in models.UploadSession._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
