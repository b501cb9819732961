import json
from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet, Sum
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from guardian.admin import GuardedModelAdmin

from accounts.actor import Actor
from accounts.admin import TenantAdmin, TenantScopedAdminMixin
from accounts.authentication import actor_from_request
from accounts.models import Tenant, TenantGroup, User
from accounts.selectors import actor_for
from deployments import selectors as deployment_selectors
from registry import models, selectors, services, trash, validators
from registry.catalog import kind_of
from registry.urls_public import file_download_url
from usage.models import DailyUsage


@admin.display(description="size", ordering="size")
def human_size(obj) -> str:
    return filesizeformat(obj.size)


def scan_badge(status: str) -> str:
    return format_html('<span class="scan-badge {}">{}</span>', status,
                       models.ScanStatus(status).label)


def admin_link(obj, text=None) -> str:
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, str(obj) if text is None else text)


def links(objects, text=lambda obj: str(obj)) -> str:
    return format_html_join(", ", "{}", ((admin_link(obj, text(obj)),) for obj in objects)
                            ) or "—"


class ScanBadgeMedia:
    css = {"all": ["registry/admin.css"]}


class WorstScanStatusFilter(admin.SimpleListFilter):
    """Rows by their worst file's scan status (the admin annotates `worst_scan_status`)."""

    title = "scan status"
    parameter_name = "scan_status"

    def lookups(self, request, model_admin):
        return models.ScanStatus.choices

    def queryset(self, request, queryset):
        return queryset.filter(worst_scan_status=self.value()) if self.value() else queryset


class TrashFilter(admin.SimpleListFilter):
    title = "trash"
    parameter_name = "trash"

    def lookups(self, request, model_admin):
        return [("no", "Not in the trash"), ("yes", "In the trash")]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(trashed_at__isnull=self.value() == "no")


class TrashAdminMixin:
    """The trash state of versions and files, the Trash filter, and the actions that move
    rows to the trash and restore them (through the trash services, so the API's rules
    apply: managers trash, tenant admins restore). Deleting a trashed row is refused: the
    purge job deletes it once its restore window has passed."""

    TRASH_REASON = "Moved to the trash in the admin console"

    def get_list_filter(self, request: HttpRequest):
        return [*super().get_list_filter(request), TrashFilter]

    def get_list_display(self, request: HttpRequest):
        return [*super().get_list_display(request), "in_trash"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [*super().get_readonly_fields(request, obj), "in_trash"]

    @admin.display(description="in the trash", ordering="trashed_at")
    def in_trash(self, obj) -> str:
        if obj.trashed_at is None:
            return "—"
        return (f"since {obj.trashed_at:%Y-%m-%d %H:%M} UTC, restorable until "
                f"{obj.purge_after:%Y-%m-%d %H:%M} UTC ({obj.trash_reason})")

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        protected = [*protected, *(f"In the trash (purged after {obj.purge_after:%Y-%m-%d}): "
                                   f"{obj}" for obj in objs if obj.trashed_at is not None)]
        return deleted, counts, perms_needed, protected

    def _each(self, request: HttpRequest, queryset: QuerySet, change) -> None:
        done = 0
        for obj in queryset:
            try:
                change(actor_for(user=request.user, tenant=self.tenant_of(obj)), obj)
            except (ValidationError, PermissionDenied) as error:
                self.message_user(request, f"{obj}: {refusal_text(error)}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} done.", messages.SUCCESS)


class WorstScanStatusAdminMixin:
    """A scan-status badge column and filter; `files_of` is the files' lookup to the row."""

    files_of: str
    Media = ScanBadgeMedia

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.with_worst_scan_status(super().get_queryset(request), self.files_of)

    def get_list_filter(self, request: HttpRequest):
        return [WorstScanStatusFilter, *super().get_list_filter(request)]

    @admin.display(description="scan status", ordering="worst_scan_status")
    def scan_status_badge(self, obj) -> str:
        return scan_badge(obj.worst_scan_status)


class ServiceWrittenAdminMixin:
    """Rows only services write (a file's bytes, hash and scan status; blobs; upload sessions):
    viewable, deletable where the admin allows it, never edited through a form. The only way
    from FLAGGED to downloadable is a release with a reason (the file list's action)."""

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def refusal_text(error: ValidationError | PermissionDenied) -> str:
    return " ".join(error.messages) if isinstance(error, ValidationError) else str(error)


class DeleteThroughServiceAdminMixin:
    """Bulk deletion deletes row by row through `delete_model`, which calls the service."""

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class ArtifactFileInline(TenantScopedAdminMixin, admin.TabularInline):
    model = models.ArtifactFile
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["path", human_size, "sha256", "content_type", "file_scan_status", "download",
              "created_at"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("tenant")

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # bytes arrive through the upload API, which hashes and scans them

    @admin.display(description="scan status")
    def file_scan_status(self, obj: models.ArtifactFile) -> str:
        return scan_badge(obj.scan_status)

    @admin.display(description="download")
    def download(self, obj: models.ArtifactFile) -> str:
        # The API's download view, which checks the caller and the scan gate once more.
        if not selectors.file_is_downloadable(obj, obj.tenant.scan_policy):
            return "quarantined"
        return format_html('<a href="{}" download>download</a>', file_download_url(obj))


class VersionInline(TenantScopedAdminMixin, admin.TabularInline):
    files_of: str
    extra = 0
    # Deleted from their own page, through the service that checks aliases and releases
    # the stored bytes.
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.with_worst_scan_status(super().get_queryset(request), self.files_of)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="scan status")
    def version_scan_status(self, obj) -> str:
        return scan_badge(obj.worst_scan_status)


class ModelVersionInline(VersionInline):
    model = models.ModelVersion
    files_of = "model_version"
    fields = ["version", "version_scan_status", "version_aliases", "state", "precision",
              "created_by", "created_at"]
    readonly_fields = ["version", "version_scan_status", "version_aliases", "created_by",
                       "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("aliases")

    @admin.display(description="aliases")
    def version_aliases(self, obj: models.ModelVersion) -> str:
        return ", ".join(alias.name for alias in obj.aliases.all()) or "—"


class DatasetVersionInline(VersionInline):
    model = models.DatasetVersion
    files_of = "dataset_version"
    fields = ["version", "version_scan_status", "state", "created_by", "created_at"]
    readonly_fields = ["version", "version_scan_status", "created_by", "created_at"]


class ModelMetadataInline(TenantScopedAdminMixin, admin.TabularInline):
    model = models.ModelMetadata
    extra = 0
    autocomplete_fields = ["key"]


class DatasetMetadataInline(ModelMetadataInline):
    model = models.DatasetMetadata


class ModelAliasInline(TenantScopedAdminMixin, admin.TabularInline):
    """Saved through the alias services (see `RegisteredModelAdmin.save_formset`), so every
    move is kept in the history and protection holds here as in the API."""

    model = models.ModelAlias
    extra = 0
    fields = ["name", "version", "protected", "updated_at"]
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


def deployed_services_shown(versions) -> list[str]:
    """The DEPLOYED services that keep `versions` (and so their models) from deletion."""
    return [f"Deployed inference service: {service.environment.name}/{service.name}"
            for service in deployment_selectors.deployed_services_of(versions)]


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


class CatalogPermissionAdminMixin(DeleteThroughServiceAdminMixin):
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

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        if self.model is models.RegisteredModel:
            # Shown as protected, so the confirmation page refuses as the service would.
            protected = [*protected, *deployed_services_shown(
                models.ModelVersion.objects.filter(model__in=objs))]
        # `manage` on the entry covers its versions, files and grants: the service deletes
        # them with it, whatever the member may do with those rows elsewhere in the admin.
        # Immutable versions are refused by catalog_entry_delete: shown as protected.
        protected = [*protected, *(f"Immutable version: {entry} {version}" for entry in objs
                                   for version in entry.versions.filter(immutable=True))]
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


class CatalogEntryAdmin(WorstScanStatusAdminMixin, CatalogPermissionAdminMixin,
                        TenantScopedAdminMixin, GuardedModelAdmin):
    list_display = ["name", "tenant", "owner", "status", "visibility", "scan_status_badge",
                    "category", "architecture", "updated_at"]
    list_filter = ["tenant", "status", "visibility", "category", "framework"]
    search_fields = ["name", "project_name", "description"]
    list_select_related = ["tenant", "owner"]
    autocomplete_fields = ["owner", "tags"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "created_at"


@admin.register(models.RegisteredModel)
class RegisteredModelAdmin(CatalogEntryAdmin):
    files_of = "model_version__model"
    inlines = [ModelVersionInline, ModelAliasInline, ModelMetadataInline]
    filter_horizontal = ["datasets"]
    member_readonly_fields = [*CatalogEntryAdmin.member_readonly_fields, "datasets"]
    readonly_fields = [*CatalogEntryAdmin.readonly_fields, "alias_history"]
    ALIAS_HISTORY_ROWS = 50

    @admin.display(description="alias history (newest first)")
    def alias_history(self, obj: models.RegisteredModel) -> str:
        events = (obj.alias_events.select_related("version", "previous_version", "actor")
                  [:self.ALIAS_HISTORY_ROWS])
        return format_html_join(
            "\n", "<div>{} UTC · {} {} · {} → {} · {}</div>",
            ((f"{event.at:%Y-%m-%d %H:%M:%S}", event.alias, event.get_action_display().lower(),
              event.previous_version or "—", event.version or "—",
              event.actor or "unknown") for event in events),
        ) or "—"

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is not models.ModelAlias:
            super().save_formset(request, form, formset, change)
            return
        actor = object_actor(request, form.instance)
        # What formset.save() would set, for the change message (empty: the services write).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for alias_form in formset.forms:
            try:
                self._save_alias(actor, form.instance, alias_form)
            except (ValidationError, PermissionDenied) as error:
                self.message_user(request, f"Alias {alias_form.instance.name}: "
                                           f"{refusal_text(error)}", messages.ERROR)

    @staticmethod
    def _save_alias(actor: Actor, model: models.RegisteredModel, alias_form) -> None:
        """One inline row through the services: removal, a rename (removal and set), a
        move, and protection, each kept or checked as through the API."""
        if not alias_form.has_changed() and not alias_form.cleaned_data.get("DELETE"):
            return
        saved = models.ModelAlias.objects.filter(pk=alias_form.instance.pk).first()
        data = alias_form.cleaned_data
        if saved is not None and (data.get("DELETE") or data["name"] != saved.name):
            services.model_alias_remove(actor=actor, model_id=model.pk, alias=saved.name)
        if data.get("DELETE"):
            return
        services.model_alias_set(actor=actor, model_id=model.pk, alias=data["name"],
                                 version_id=data["version"].pk)
        if "protected" in alias_form.changed_data or (saved and data["name"] != saved.name
                                                      and data["protected"]):
            services.model_alias_protect(actor=actor, model_id=model.pk, alias=data["name"],
                                         protected=data["protected"])


@admin.register(models.Dataset)
class DatasetAdmin(CatalogEntryAdmin):
    files_of = "dataset_version__dataset"
    inlines = [DatasetVersionInline, DatasetMetadataInline]


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


class VersionForm(forms.ModelForm):
    """Metrics as `name = number` lines, not a JSON text box; checked by the API's rules."""

    metrics_lines = forms.CharField(
        label="Metrics", required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One <code>name = number</code> a line, e.g. <code>mAP = 0.53</code>.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial.setdefault("metrics_lines", "\n".join(
            f"{name} = {value}" for name, value in (self.instance.metrics or {}).items()))

    def _api_rule(self, field: str, check, *args):
        """Run one of the API's validators, its refusal reported on `field`."""
        try:
            return check(*args)
        except ValidationError as error:
            self.add_error(field, error.messages)
            return None

    def clean_metrics_lines(self) -> dict:
        metrics = {}
        for line in _lines(self.cleaned_data["metrics_lines"]):
            name, equals, number = (part.strip() for part in line.partition("="))
            try:
                # JSON's number syntax, as the API takes; validate_metrics refuses the rest.
                metrics[name] = json.loads(number) if equals else None
            except ValueError:
                metrics[name] = None
            if metrics[name] is None:
                raise ValidationError(f"{line!r}: write name = number.")
        return metrics

    def clean(self):
        cleaned = super().clean()
        if "metrics_lines" in cleaned and self._api_rule(
                "metrics_lines", validators.validate_metrics, cleaned["metrics_lines"]
        ) is not None:
            self.instance.metrics = cleaned["metrics_lines"]
        return cleaned


class ModelVersionForm(VersionForm):
    """Hardware, checkpoints and container images as fields of their own."""

    min_memory_mb = forms.IntegerField(label="Min memory (MB)", required=False, min_value=0)
    min_cpu_cores = forms.IntegerField(label="Min CPU cores", required=False, min_value=0)
    gpu_memory_mb = forms.IntegerField(label="GPU memory (MB)", required=False, min_value=0)
    disk_mb = forms.IntegerField(label="Disk (MB)", required=False, min_value=0)
    accelerators = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(name, name) for name in sorted(validators.ACCELERATORS)])
    checkpoints_lines = forms.CharField(
        label="Checkpoints", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One URI a line (never fetched by the server).")
    container_images_lines = forms.CharField(
        label="Container images", required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One <code>registry/repository@sha256:&lt;64 hex&gt;</code> a line.")

    class Meta:
        model = models.ModelVersion
        fields = ["model", "state", "precision", "description", "source_uri"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        instance = self.instance
        for name, value in (instance.hardware or {}).items():
            self.initial.setdefault(name, value)
        self.initial.setdefault("checkpoints_lines", "\n".join(instance.checkpoints or []))
        self.initial.setdefault("container_images_lines", "\n".join(
            f"{image['registry']}/{image['repository']}@{image['digest']}"
            for image in instance.container_images or []))

    def clean(self):
        cleaned = super().clean()
        hardware = {name: cleaned[name] for name in (*validators.HARDWARE_INT_FIELDS,
                                                     "accelerators")
                    if cleaned.get(name) not in (None, [])}
        if self._api_rule("min_memory_mb", validators.validate_hardware, hardware) is not None:
            self.instance.hardware = hardware
        checkpoints = _lines(cleaned.get("checkpoints_lines", ""))
        if (self._api_rule("checkpoints_lines", validators.validate_item_count, checkpoints,
                           "checkpoints") is None
                and all(self._api_rule("checkpoints_lines", validators.validate_source_uri,
                                       uri) is not None for uri in checkpoints)):
            self.instance.checkpoints = checkpoints
        images = []
        for line in _lines(cleaned.get("container_images_lines", "")):
            reference, _, digest = line.partition("@")
            registry, _, repository = reference.partition("/")
            images.append(self._api_rule("container_images_lines",
                                         validators.validate_container_image,
                                         {"registry": registry, "repository": repository,
                                          "digest": digest}))
        if None not in images and self._api_rule(
                "container_images_lines", validators.validate_item_count, images,
                "containerImages") is None:
            self.instance.container_images = images
        return cleaned


class DatasetVersionForm(VersionForm):
    class Meta:
        model = models.DatasetVersion
        fields = ["dataset", "state", "description", "source_uri"]


# Shown under "Recorded"; `version` itself leads the first fieldset, read-only too.
VERSION_RECORDED_FIELDS = ["version_major", "version_minor", "version_patch",
                           "version_prerelease", "created_by", "created_at", "updated_at"]


class VersionAdmin(TrashAdminMixin, DeleteThroughServiceAdminMixin, WorstScanStatusAdminMixin,
                   TenantScopedAdminMixin, admin.ModelAdmin):
    list_filter = ["state"]
    # The version string and its parsed parts are set once, by the service that creates it.
    readonly_fields = ["version", *VERSION_RECORDED_FIELDS, "downloads", "immutable"]
    inlines = [ArtifactFileInline]
    actions = ["make_immutable", "make_mutable", "move_to_trash", "restore"]

    def tenant_of(self, version: models.Version) -> Tenant:
        return getattr(version, kind_of(version).parent_field).tenant

    @admin.action(description="Move the selected versions to the trash")
    def move_to_trash(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, lambda actor, version: trash.version_trash(
            actor=actor, version=version, reason=self.TRASH_REASON))

    @admin.action(description="Restore the selected versions from the trash (tenant admins)")
    def restore(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, lambda actor, version: trash.version_restore(
            actor=actor, version=version))

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None or not obj.immutable:
            return form

        class FrozenVersionForm(form):
            """Frozen content: only the state may still change, as through the API."""

            def __init__(self, *args, **form_kwargs) -> None:
                super().__init__(*args, **form_kwargs)
                for name, field in self.fields.items():
                    field.disabled = name != "state"

        return FrozenVersionForm

    @admin.action(description="Make the selected versions immutable")
    def make_immutable(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_immutable(request, queryset, immutable=True)

    @admin.action(description="Make the selected versions mutable again (tenant admins)")
    def make_mutable(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_immutable(request, queryset, immutable=False)

    def _set_immutable(self, request: HttpRequest, queryset: QuerySet, *,
                       immutable: bool) -> None:
        parent_field = kind_of(queryset.model).parent_field
        for version in queryset.select_related(f"{parent_field}__tenant"):
            try:
                services.version_immutable_set(
                    actor=object_actor(request, getattr(version, parent_field)),
                    version=version, immutable=immutable)
            except (ValidationError, PermissionDenied) as error:
                self.message_user(request, f"{version}: {refusal_text(error)}", messages.ERROR)

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Shown as protected, so the confirmation page refuses as version_delete would.
        protected = [*protected, *(f"Immutable version: {version}" for version in objs
                                   if version.immutable)]
        return deleted, counts, perms_needed, protected

    @admin.display(description="downloads")
    def downloads(self, obj) -> str:
        total = DailyUsage.objects.filter(
            **{f"file__{self.files_of}": obj}).aggregate(total=Sum("pulls"))["total"] or 0
        last = obj.files.order_by("-last_downloaded_at").values_list(
            "last_downloaded_at", flat=True).first()
        return f"{total}" + (f", last on {last:%Y-%m-%d %H:%M} UTC" if last else "")

    def delete_model(self, request: HttpRequest, obj: models.Version) -> None:
        # The API's path: releases the stored bytes no other file shares, refreshes the
        # latest version, and refuses while an alias points at the version.
        parent_field = kind_of(obj).parent_field
        services.version_delete(actor=object_actor(request, getattr(obj, parent_field)),
                                version=obj)


@admin.register(models.ModelVersion)
class ModelVersionAdmin(VersionAdmin):
    form = ModelVersionForm
    files_of = "model_version"
    list_display = ["model", "version", "scan_status_badge", "precision", "state",
                    "created_by", "created_at"]
    search_fields = ["model__name", "version"]
    list_select_related = ["model", "created_by"]
    raw_id_fields = ["model"]
    readonly_fields = [*VersionAdmin.readonly_fields, "aliases", "trained_on"]
    fieldsets = [
        (None, {"fields": ["model", "version", "state", "immutable", "precision",
                           "description", "source_uri"]}),
        ("Hardware", {"fields": [("min_memory_mb", "min_cpu_cores"),
                                 ("gpu_memory_mb", "disk_mb"), "accelerators"]}),
        ("Metrics, checkpoints and images", {"fields": ["metrics_lines", "checkpoints_lines",
                                                        "container_images_lines"]}),
        ("Lineage and usage", {"fields": ["aliases", "trained_on", "downloads"]}),
        ("Recorded", {"classes": ["collapse"], "fields": VERSION_RECORDED_FIELDS}),
    ]

    @admin.display(description="aliases")
    def aliases(self, obj: models.ModelVersion) -> str:
        return ", ".join(obj.aliases.values_list("name", flat=True)) or "—"

    @admin.display(description="trained on (dataset versions)")
    def trained_on(self, obj: models.ModelVersion) -> str:
        return links(obj.dataset_versions.filter(dataset__tenant=obj.model.tenant_id)
                     .select_related("dataset"),
                     lambda version: f"{version.dataset.name} {version.version}")

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Shown as protected, so the confirmation page refuses as version_delete would.
        protected = [*protected, *(f"Model alias: {alias.name}" for alias in
                                   models.ModelAlias.objects.filter(version__in=objs))]
        protected += deployed_services_shown(objs)
        return deleted, counts, perms_needed, protected


@admin.register(models.DatasetVersion)
class DatasetVersionAdmin(VersionAdmin):
    form = DatasetVersionForm
    files_of = "dataset_version"
    list_display = ["dataset", "version", "scan_status_badge", "state", "created_by",
                    "created_at"]
    search_fields = ["dataset__name", "version"]
    list_select_related = ["dataset", "created_by"]
    raw_id_fields = ["dataset"]
    readonly_fields = [*VersionAdmin.readonly_fields, "used_by"]
    fieldsets = [
        (None, {"fields": ["dataset", "version", "state", "immutable", "description",
                           "source_uri", "metrics_lines"]}),
        ("Lineage and usage", {"fields": ["used_by", "downloads"]}),
        ("Recorded", {"classes": ["collapse"], "fields": VERSION_RECORDED_FIELDS}),
    ]

    @admin.display(description="used by (model versions)")
    def used_by(self, obj: models.DatasetVersion) -> str:
        return links(obj.model_versions.filter(model__tenant=obj.dataset.tenant_id)
                     .select_related("model"),
                     lambda version: f"{version.model.name} {version.version}")


@admin.register(models.ArtifactFile)
class ArtifactFileAdmin(TrashAdminMixin, DeleteThroughServiceAdminMixin,
                        ServiceWrittenAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    Media = ScanBadgeMedia
    list_display = ["path", "model_version", "dataset_version", human_size, "file_scan_status",
                    "created_at"]
    list_filter = ["scan_status", "tenant"]
    search_fields = ["path", "sha256"]
    list_select_related = ["model_version__model", "dataset_version__dataset"]
    actions = ["move_to_trash", "restore"]

    def tenant_of(self, artifact: models.ArtifactFile) -> Tenant:
        return artifact.tenant

    @admin.action(description="Move the selected files to the trash")
    def move_to_trash(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, lambda actor, artifact: trash.file_trash(
            actor=actor, artifact=artifact, reason=self.TRASH_REASON))

    @admin.action(description="Restore the selected files from the trash (tenant admins)")
    def restore(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, lambda actor, artifact: trash.file_restore(
            actor=actor, artifact=artifact))

    @admin.display(description="scan status", ordering="scan_status")
    def file_scan_status(self, obj: models.ArtifactFile) -> str:
        return scan_badge(obj.scan_status)

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Shown as protected, so the confirmation page refuses as file_delete would.
        protected = [*protected, *(f"File of an immutable version: {artifact}"
                                   for artifact in objs if artifact.version.immutable)]
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: models.ArtifactFile) -> None:
        # The API's path: the blob goes once no other file refers to it.
        services.file_delete(actor=actor_for(user=request.user, tenant=obj.tenant),
                             file_id=obj.pk)


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


admin.site.unregister(Tenant)


@admin.register(Tenant)
class TenantUsageAdmin(TenantAdmin):
    """The accounts app's tenant screen, with the tenant's storage use against its quotas."""

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        fields = super().get_readonly_fields(request, obj)
        return fields if obj is None else [*fields, "usage"]

    @admin.display(description="usage")
    def usage(self, obj: Tenant) -> str:
        activity = selectors.tenants_activity([obj], days=1, flagged_limit=0)[0]
        return (f"{filesizeformat(activity.stored_bytes)} of "
                f"{filesizeformat(obj.quota_bytes)}, {activity.stored_files} of "
                f"{obj.quota_files} files; open uploads: {activity.open_uploads} "
                f"({filesizeformat(activity.open_upload_bytes)} reserved)")
