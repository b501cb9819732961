from functools import partial

from django import forms
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from guardian.admin import GuardedModelAdmin

from accounts.actor import Actor
from accounts.admin import TenantScopedAdminMixin
from accounts.authentication import actor_from_request
from accounts.models import Tenant, TenantGroup, User
from accounts.selectors import actor_for
from registry import models, selectors, services


@admin.display(description="size", ordering="size")
def human_size(obj) -> str:
    return filesizeformat(obj.size)


class ServiceWrittenAdminMixin:
    """Rows only services write (a file's bytes, hash and scan status; blobs; upload sessions):
    viewable, deletable where the admin allows it, never edited through a form. The only way
    from FLAGGED to downloadable is a release with a reason (the file list's action)."""

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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


# --- Object permissions for staff users ------------------------------------------------------
# Staff members who are not tenant admins work in the admin under the API's rules: they see
# the models and datasets `restrict_catalog` shows them, change what `can_change` allows, and
# delete and share what `can_manage` allows. Relations (owner, tenant, tags, datasets) stay
# the tenant admins' to edit here, as their choices would list rows such a member cannot see.

def staff_actor(request: HttpRequest) -> Actor | None:
    """The logged-in staff user as a member of the request's tenant, else None."""
    if not (request.user.is_active and request.user.is_staff):
        return None
    actor = actor_from_request(request)
    if actor.user is None or actor.user.pk != request.user.pk or actor.tenant is None:
        return None
    return actor


def object_actor(request: HttpRequest, entry: models.CatalogEntry) -> Actor:
    """The admin user acting in the entry's tenant (the superuser administers every one)."""
    return actor_for(user=request.user, tenant=entry.tenant)


def _member_select_form(tenant: Tenant) -> type[forms.Form]:
    class MemberSelectForm(forms.Form):
        user = forms.CharField(max_length=150, label="Username")

        def clean_user(self) -> User:
            user = User.objects.filter(username=self.cleaned_data["user"],
                                       memberships__tenant=tenant).first()
            if user is None:
                raise forms.ValidationError("No member of this tenant has this username.")
            return user

    return MemberSelectForm


def _group_select_form(tenant: Tenant) -> type[forms.Form]:
    class GroupSelectForm(forms.Form):
        group = forms.CharField(max_length=150, label="Group")

        def clean_group(self) -> Group:
            tenant_group = (TenantGroup.objects.select_related("group")
                            .filter(tenant=tenant, name=self.cleaned_data["group"]).first())
            if tenant_group is None:
                raise forms.ValidationError("This tenant has no group of this name.")
            return tenant_group.group

    return GroupSelectForm


class AccessLevelForm(forms.Form):
    """guardian's per-user and per-group page, reduced to one level and saved through the
    share services, so the admin shares exactly as `shareObject` does."""

    permission = forms.ChoiceField(
        required=False, choices=[("", "No access"), *models.AccessLevel.choices],
        help_text="Each level includes the ones before it.",
    )

    def __init__(self, grantee: User | Group, entry: models.CatalogEntry, *args,
                 actor: Actor, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.entry, self.actor = entry, actor
        if isinstance(grantee, Group):
            self.grantee = {"group_ids": [grantee.tenant_group.pk]}
            held = [g.level for g in selectors.catalog_entry_grants(entry)
                    if g.group is not None and g.group.group_id == grantee.pk]
        else:
            self.grantee = {"user_ids": [grantee.pk]}
            held = [g.level for g in selectors.catalog_entry_grants(entry) if g.user == grantee]
        self.fields["permission"].initial = held[0] if held else ""

    @transaction.atomic
    def save_obj_perms(self) -> None:
        level = self.cleaned_data["permission"]
        levels = list(models.AccessLevel)
        common = {"entry_class": type(self.entry), "actor": self.actor,
                  "entry_id": self.entry.pk, **self.grantee}
        # Exactly `level`: withdraw the levels above it (all of them for no access), then
        # grant it.
        if level != models.AccessLevel.MANAGE:
            services.catalog_entry_unshare(
                level=levels[levels.index(level) + 1] if level else models.AccessLevel.VIEW,
                **common)
        if level:
            services.catalog_entry_share(level=level, **common)


class CatalogPermissionAdminMixin:
    """Models and datasets under the API's visibility and object permissions (see above)."""

    member_readonly_fields = ["tenant", "owner", "tags"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        if request.user.is_superuser:
            return super().get_queryset(request)
        actor = staff_actor(request)
        # restrict_catalog scopes to the actor's tenant itself, for members as for tenant
        # admins: it replaces the tenant mixin's filter, which admits tenant admins only.
        queryset = admin.ModelAdmin.get_queryset(self, request)
        return selectors.restrict_catalog(queryset, actor) if actor else queryset.none()

    def has_module_permission(self, request: HttpRequest) -> bool:
        if request.user.is_superuser:
            return super().has_module_permission(request)
        return staff_actor(request) is not None

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return super().has_view_permission(request, obj)
        actor = staff_actor(request)
        if actor is None or obj is None:
            return actor is not None
        return selectors.restrict_catalog(type(obj).objects.filter(pk=obj.pk), actor).exists()

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return super().has_change_permission(request, obj)
        actor = staff_actor(request)
        if actor is None or obj is None:
            return actor is not None  # the list; each object is checked on its own
        return selectors.can_change(actor, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return super().has_delete_permission(request, obj)
        actor = staff_actor(request)
        if actor is None or obj is None:
            # Bulk deletion deletes every selected row: tenant admins only.
            return actor is not None and actor.is_tenant_admin
        return selectors.can_manage(actor, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        if request.user.is_superuser:
            return super().has_add_permission(request)
        actor = staff_actor(request)
        return actor is not None and actor.is_tenant_admin

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        actor = None if request.user.is_superuser else staff_actor(request)
        if actor is None or actor.is_tenant_admin:
            return fields
        fields += [name for name in self.member_readonly_fields if name not in fields]
        if obj is not None and not selectors.can_manage(actor, obj):
            fields.append("visibility")  # making it public or private is sharing
        return fields

    def delete_model(self, request: HttpRequest, obj: models.CatalogEntry) -> None:
        # The service deletes, releases the stored bytes, and checks `manage` once more.
        services.catalog_entry_delete(entry_class=type(obj), actor=object_actor(request, obj),
                                      entry_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for entry in queryset:
            self.delete_model(request, entry)

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        # `manage` on the entry covers its versions, files and grants: the service deletes
        # them with it, whatever the member may do with those rows elsewhere in the admin.
        return deleted, counts, set(), protected

    # guardian's object permission pages: managers only, grantees of the object's tenant.

    def _entry_to_share(self, request: HttpRequest, object_pk) -> models.CatalogEntry:
        entry = get_object_or_404(self.get_queryset(request), pk=object_pk)
        if not selectors.can_manage(object_actor(request, entry), entry):
            raise Http404
        request.sharing_tenant = entry.tenant
        return entry

    def obj_perms_manage_view(self, request: HttpRequest, object_pk):
        self._entry_to_share(request, object_pk)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request: HttpRequest, object_pk, user_id):
        entry = self._entry_to_share(request, object_pk)
        get_object_or_404(User, pk=user_id, memberships__tenant=entry.tenant_id)
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def obj_perms_manage_group_view(self, request: HttpRequest, object_pk, group_id):
        entry = self._entry_to_share(request, object_pk)
        get_object_or_404(TenantGroup, group_id=group_id, tenant=entry.tenant_id)
        return super().obj_perms_manage_group_view(request, object_pk, group_id)

    def get_obj_perms_user_select_form(self, request: HttpRequest) -> type[forms.Form]:
        return _member_select_form(request.sharing_tenant)

    def get_obj_perms_group_select_form(self, request: HttpRequest) -> type[forms.Form]:
        return _group_select_form(request.sharing_tenant)

    def get_obj_perms_manage_user_form(self, request: HttpRequest):
        return partial(AccessLevelForm, actor=self._sharing_actor(request))

    def get_obj_perms_manage_group_form(self, request: HttpRequest):
        return partial(AccessLevelForm, actor=self._sharing_actor(request))

    def _sharing_actor(self, request: HttpRequest) -> Actor:
        return actor_for(user=request.user, tenant=request.sharing_tenant)


class CatalogEntryAdmin(CatalogPermissionAdminMixin, TenantScopedAdminMixin, GuardedModelAdmin):
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
    member_readonly_fields = [*CatalogEntryAdmin.member_readonly_fields, "datasets"]


@admin.register(models.Dataset)
class DatasetAdmin(CatalogEntryAdmin):
    inlines = [DatasetVersionInline, DatasetMetadataInline]


class VersionAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "state", "created_by", "created_at"]
    list_filter = ["state"]
    # The version string and its parsed parts are set once, by the service that creates it.
    readonly_fields = ["version", "version_major", "version_minor", "version_patch",
                       "version_prerelease", "created_by", "created_at", "updated_at"]
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
class ArtifactFileAdmin(ServiceWrittenAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["path", "model_version", "dataset_version", human_size, "scan_status",
                    "created_at"]
    list_filter = ["scan_status", "tenant"]
    search_fields = ["path", "sha256"]
    list_select_related = ["model_version__model", "dataset_version__dataset"]


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
class BlobAdmin(ServiceWrittenAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["sha256", "tenant", human_size, "created_at", "last_verified_at",
                    "integrity_error"]
    list_filter = ["tenant"]
    search_fields = ["sha256", "storage_key"]


@admin.register(models.UploadSession)
class UploadSessionAdmin(ServiceWrittenAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["path", "tenant", "state", human_size, "part_count", "created_by",
                    "created_at", "expires_at"]
    list_filter = ["state", "tenant"]
