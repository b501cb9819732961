"""The admin console. The superuser sees every tenant; a tenant admin (a staff user with an
admin membership) sees and edits only the rows of the tenant they work in, resolved like
every other request by `actor_from_request` (the session's tenant, else the default one).
"""

from collections import deque

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db import models as db_models
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import selectors, services
from accounts.actor import Actor
from accounts.authentication import SESSION_TENANT_KEY, actor_from_request
from accounts.errors import AccountErrorCode as Code
from accounts.models import ApiToken, LoginSession, Membership, Role, Tenant, TenantGroup, User
from accounts.validators import validate_name


def tenant_lookup(model: type[db_models.Model], max_depth: int = 4) -> str | None:
    """The shortest foreign-key path from `model` to its Tenant, e.g. `model__tenant`."""
    if model is Tenant:
        return "pk"
    queue = deque([(model, "")])
    while queue:
        current, path = queue.popleft()
        for field in current._meta.get_fields():
            if not (field.many_to_one or field.one_to_one) or not field.concrete:
                continue
            lookup = f"{path}__{field.name}" if path else field.name
            if field.related_model is Tenant:
                return lookup
            if lookup.count("__") + 1 < max_depth:
                queue.append((field.related_model, lookup))
    return None


def _admin_actor(request: HttpRequest) -> Actor | None:
    """The request's actor when it is the logged-in admin user (a bearer token is not)."""
    actor = actor_from_request(request)
    if actor.user is None or actor.user.pk != request.user.pk:
        return None
    return actor


def admin_tenant(request: HttpRequest) -> Tenant | None:
    """The tenant a non-superuser administers in this request, else None."""
    actor = _admin_actor(request)
    return actor.tenant if actor is not None and actor.is_tenant_admin else None


class TenantScopedAdminMixin:
    """Scopes a ModelAdmin or inline to the tenant admin's tenant.

    Rows are filtered through `tenant_lookup` (found from the model's foreign keys unless
    set), the admin's permissions come from their tenant role, and foreign-key choices are
    limited to the tenant's rows so a form cannot point across tenants.
    """

    tenant_lookup: str | None = None

    def _tenant_lookup(self) -> str:
        lookup = self.tenant_lookup or tenant_lookup(self.model)
        if lookup is None:
            raise TypeError(f"{self.model.__name__} has no path to a tenant; set tenant_lookup")
        return lookup

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        tenant = admin_tenant(request)
        if tenant is None:
            return queryset.none()
        return queryset.filter(**{self._tenant_lookup(): tenant})

    def get_list_filter(self, request: HttpRequest):
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        # A tenant filter would list every tenant's name.
        return [f for f in filters if not (isinstance(f, str) and f.split("__")[-1] == "tenant")]

    def _tenant_admin_may(self, request: HttpRequest) -> bool:
        return request.user.is_staff and admin_tenant(request) is not None

    def has_module_permission(self, request: HttpRequest) -> bool:
        if request.user.is_superuser:
            return super().has_module_permission(request)
        return self._tenant_admin_may(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return super().has_view_permission(request, obj)
        return self._tenant_admin_may(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return super().has_change_permission(request, obj)
        return self._tenant_admin_may(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return super().has_delete_permission(request, obj)
        return self._tenant_admin_may(request)

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        if request.user.is_superuser:
            return super().has_add_permission(request, *args)
        return self._tenant_admin_may(request)

    def _scoped_choices(self, related_model, request: HttpRequest) -> QuerySet | None:
        if related_model is Tenant:
            tenant = admin_tenant(request)
            return Tenant.objects.filter(pk=tenant.pk if tenant else None)
        related_admin = self.admin_site._registry.get(related_model)
        if isinstance(related_admin, TenantScopedAdminMixin):
            return related_admin.get_queryset(request)
        if tenant_lookup(related_model) is not None:
            return related_model._default_manager.none()  # tenant rows with no scoped admin
        return None

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if not request.user.is_superuser and "queryset" not in kwargs:
            choices = self._scoped_choices(db_field.related_model, request)
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs):
        if not request.user.is_superuser and "queryset" not in kwargs:
            choices = self._scoped_choices(db_field.related_model, request)
            if choices is not None:
                kwargs["queryset"] = choices
        return super().formfield_for_manytomany(db_field, request, **kwargs)


def username_field(users: QuerySet | None = None) -> forms.ModelChoiceField:
    """A user typed by exact username: adding a member must not list the instance's users."""
    return forms.ModelChoiceField(User.objects.all() if users is None else users,
                                  to_field_name="username", widget=forms.TextInput,
                                  help_text="Exact username.")


def last_admin_error(tenants: list[Tenant]) -> ValidationError:
    return ValidationError(
        f"{', '.join(tenant.slug for tenant in tenants)} would be left without an admin: a "
        "tenant keeps at least one.", code=Code.LAST_ADMIN)


def last_admin_protection(memberships) -> list[str]:
    """What the admin's delete confirmation lists as protected when deleting would leave a
    tenant without an admin (Django then refuses the deletion)."""
    return [last_admin_error([tenant]).message
            for tenant in selectors.tenants_left_without_admin(memberships)]


class MembershipInlineFormSet(forms.BaseInlineFormSet):
    """Every membership of the tenant: at least one of the rows kept must be an admin."""

    def clean(self) -> None:
        super().clean()
        # A new tenant's admin comes from the creation form; invalid rows are reported first.
        if self.instance.pk is None or any(form.errors for form in self.forms):
            return
        deleted = self.deleted_forms  # a property that walks every form: once
        admins_kept = [form for form in self.forms if form not in deleted
                       and form.cleaned_data.get("role") == Role.ADMIN]
        if not admins_kept and Membership.objects.filter(tenant=self.instance,
                                                         role=Role.ADMIN).exists():
            raise last_admin_error([self.instance])


class MemberUsernameForm(forms.ModelForm):
    """A membership whose user is typed by username. A model form's initial value for a
    foreign key is the row's id, which the username field would then reject: a saved row
    starts from its user's username instead."""

    user = username_field()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.user_id is not None:
            self.initial["user"] = self.instance.user.username


class MembershipInline(TenantScopedAdminMixin, admin.TabularInline):
    model = Membership
    form = MemberUsernameForm
    formset = MembershipInlineFormSet
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("user")


@admin.register(User)
class RegistryUserAdmin(TenantScopedAdminMixin, UserAdmin):
    """Users are shared by tenants, so tenant admins only look at their members."""

    list_display = ["username", "email", "is_active", "is_superuser", "last_login"]
    tenant_lookup = "memberships__tenant"

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, permissions_needed, protected = super().get_deleted_objects(objs,
                                                                                     request)
        return deleted, counts, permissions_needed, protected + last_admin_protection(
            Membership.objects.filter(user__in=objs))


class TenantCreationForm(forms.ModelForm):
    admin_username = forms.CharField(
        max_length=150, help_text="The first tenant admin: an existing user, or a new one."
    )
    admin_password = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False),
        help_text="Only to create a new user; leave empty for an existing one.",
    )
    admin_console_access = forms.BooleanField(
        required=False, initial=True, label="Admin console access",
        help_text="Give the admin staff status, so they can log into this console (where "
                  "they see only their tenants).",
    )

    class Meta:
        model = Tenant
        fields = ["slug", "organization", "address", "email", "phone", "scan_policy",
                  "scan_pickle_allowlist", "allow_anonymous_read", "quota_bytes", "quota_files",
                  "trash_enabled", "trash_restore_days"]

    def clean(self):
        """The same rules as `createTenant`, reported on the form's fields."""
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            services.tenant_fields_clean(**{name: cleaned.get(name) or "" for name in (
                "slug", "organization", "address", "email", "phone")})
            services.user_for_membership_check(username=cleaned["admin_username"],
                                               password=cleaned.get("admin_password") or None,
                                               fields=("admin_username", "admin_password"))
        except ValidationError as error:
            self.add_error(None, error)
        return cleaned


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    """Only the superuser creates and deletes tenants; tenant admins see the tenants they
    administer and choose which one they work in."""

    list_display = ["slug", "organization", "is_default", "scan_policy", "created_at"]
    search_fields = ["slug", "organization", "email"]
    list_filter = ["scan_policy", "is_default"]
    inlines = [MembershipInline]
    actions = ["work_in_tenant"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(memberships__user=request.user, memberships__role=Role.ADMIN)

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = TenantCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        if request.user.is_superuser:
            return ["is_default", "created_at"] if obj is None else [
                "slug", "is_default", "created_at"]
        # Quotas are the operator's to grant.
        return ["slug", "is_default", "quota_bytes", "quota_files", "created_at"]

    def _administers(self, request: HttpRequest) -> bool:
        return request.user.is_staff and Membership.objects.filter(
            user=request.user, role=Role.ADMIN).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or self._administers(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser or self._administers(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser or self._administers(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser and not (obj is not None and obj.is_default)

    def save_model(self, request: HttpRequest, obj: Tenant, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            services.tenant_admin_add(
                tenant=obj, username=form.cleaned_data["admin_username"],
                password=form.cleaned_data.get("admin_password") or None,
                console_access=form.cleaned_data["admin_console_access"])

    def delete_model(self, request: HttpRequest, obj: Tenant) -> None:
        # The admin's confirmation page is the confirmation.
        services.tenant_delete(tenant_id=obj.pk, confirm_slug=obj.slug)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for tenant in queryset.exclude(is_default=True):
            services.tenant_delete(tenant_id=tenant.pk, confirm_slug=tenant.slug)

    @admin.action(description="Work in this tenant (admin console and GraphiQL)")
    def work_in_tenant(self, request: HttpRequest, queryset: QuerySet) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one tenant.", messages.WARNING)
            return
        tenant = queryset.get()
        request.session[SESSION_TENANT_KEY] = tenant.slug
        self.message_user(request, f"You now work in {tenant.slug}.", messages.SUCCESS)


class MembershipForm(MemberUsernameForm):
    class Meta:
        model = Membership
        fields = ["user", "tenant", "role"]

    def clean(self):
        cleaned = super().clean()
        stored = Membership.objects.filter(pk=self.instance.pk).first()
        if stored is not None:
            leaves = (cleaned.get("role", stored.role) != stored.role
                      or cleaned.get("tenant", stored.tenant) != stored.tenant)
            if leaves and (tenants := selectors.tenants_left_without_admin([stored])):
                raise last_admin_error(tenants)
        return cleaned


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    form = MembershipForm
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "tenant__slug"]
    list_select_related = ["user", "tenant"]

    def get_deleted_objects(self, objs, request: HttpRequest):
        deleted, counts, permissions_needed, protected = super().get_deleted_objects(objs,
                                                                                     request)
        return deleted, counts, permissions_needed, protected + last_admin_protection(objs)


class TenantGroupForm(forms.ModelForm):
    members = forms.ModelMultipleChoiceField(
        User.objects.none(), required=False,
        widget=FilteredSelectMultiple("members", is_stacked=False),
    )

    class Meta:
        model = TenantGroup
        fields = ["tenant", "name"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            del self.fields["members"]  # members are chosen once the group's tenant is set
            return
        # Only members of the tenant join its groups.
        self.fields["members"].queryset = User.objects.filter(
            memberships__tenant=self.instance.tenant).order_by("username")
        self.fields["members"].initial = self.instance.group.user_set.all()

    def clean_name(self) -> str:
        return validate_name(self.cleaned_data["name"])


@admin.register(TenantGroup)
class TenantGroupAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    form = TenantGroupForm
    list_display = ["name", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["name"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return ["tenant", "name"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: TenantGroup, form, change: bool) -> None:
        if change:
            obj.group.user_set.set(form.cleaned_data["members"])
            return
        created = services.tenant_group_create(tenant=obj.tenant, name=obj.name)
        obj.pk, obj.group, obj.created_at = created.pk, created.group, created.created_at

    def delete_model(self, request: HttpRequest, obj: TenantGroup) -> None:
        obj.group.delete()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for group in queryset.select_related("group"):
            group.group.delete()


class TokenAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """Tokens are issued through the API (their secrets are shown once); here they are only
    listed and revoked, by deleting them."""

    list_select_related = ["user", "tenant"]
    search_fields = ["user__username", "lookup"]
    list_filter = ["tenant"]
    exclude = ["access_hash", "refresh_hash", "secret_hash", "credential_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(TokenAdmin):
    list_display = ["name", "user", "tenant", "scopes", "expires_at", "last_used_at",
                    "created_at"]
    search_fields = ["name", *TokenAdmin.search_fields]


@admin.register(LoginSession)
class LoginSessionAdmin(TokenAdmin):
    list_display = ["user", "tenant", "created_at", "access_expires_at", "refresh_expires_at"]
