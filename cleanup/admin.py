"""Cleanup in the admin console, per tenant: the retention policy (written through the
service, which checks what the API checks) and the proposals, read-only."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat

from accounts.admin import TenantScopedAdminMixin
from accounts.selectors import actor_for
from cleanup import services
from cleanup.models import CleanupProposal, ProposalItem, RetentionPolicy
from registry.admin import ServiceWrittenAdminMixin


def _field_clean(clean, value):
    """The service's check, as the form field's error."""
    try:
        return clean(value)
    except ValidationError as error:
        raise ValidationError(error.messages) from error


class RetentionPolicyForm(forms.ModelForm):
    class Meta:
        model = RetentionPolicy
        fields = ["tenant", *services.POLICY_FIELDS]

    def clean_dormant_days(self) -> int:
        return _field_clean(services.dormant_days_clean, self.cleaned_data["dormant_days"])

    def clean_keep_newest(self) -> int:
        return _field_clean(services.keep_newest_clean, self.cleaned_data["keep_newest"])


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    form = RetentionPolicyForm
    list_display = ["tenant", *services.POLICY_FIELDS, "updated_by", "updated_at"]
    list_select_related = ["tenant", "updated_by"]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # disable it instead: the change is then in the audit trail

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        recorded = ["updated_by", "updated_at"]
        return ["tenant", *recorded] if obj is not None else recorded

    def save_model(self, request: HttpRequest, obj: RetentionPolicy, form, change: bool) -> None:
        actor = actor_for(user=request.user, tenant=obj.tenant)
        policy = services.policy_update(
            actor=actor, **{name: form.cleaned_data[name] for name in services.POLICY_FIELDS})
        obj.pk = policy.pk


class ReadOnlyAdminMixin(ServiceWrittenAdminMixin):
    """Written by the cleanup services alone, and kept: the purge's record."""

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _sized(field: str, description: str):
    @admin.display(description=description, ordering=field)
    def human(obj) -> str:
        return filesizeformat(getattr(obj, field))
    return human


class ProposalItemInline(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.TabularInline):
    model = ProposalItem
    tenant_lookup = "proposal__tenant"
    extra = 0
    fields = ["label", "reason", "state", "skip_reason", _sized("size", "size"),
              _sized("reclaimable_bytes", "reclaimable"), _sized("reclaimed_bytes", "reclaimed")]
    readonly_fields = fields

    @admin.display(description="reason")
    def reason(self, obj: ProposalItem) -> str:
        return obj.reason


@admin.register(CleanupProposal)
class CleanupProposalAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "tenant", "state", "item_count",
                    _sized("reclaimable_bytes", "reclaimable"),
                    _sized("reclaimed_bytes", "reclaimed"), "approved_by"]
    list_filter = ["state", "tenant"]
    list_select_related = ["tenant", "approved_by"]
    date_hierarchy = "created_at"
    inlines = [ProposalItemInline]
    fields = ["tenant", "created_at", "state", "dormant_days", "keep_newest", "item_count",
              _sized("size", "size"), _sized("reclaimable_bytes", "reclaimable"),
              "approved_by", "approved_at", "purged_at", "purged_versions", "purged_files",
              _sized("reclaimed_bytes", "reclaimed")]
    readonly_fields = fields
