"""Webhooks in the admin console, per tenant: created and changed through the services (the
secret is shown once, in the message after creating), with the latest deliveries inline and
a "send a test" action."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.admin import TenantScopedAdminMixin
from accounts.selectors import actor_for
from webhooks import services
from webhooks.models import Webhook, WebhookDelivery, WebhookEvent

DELIVERY_FIELDS = ["created_at", "event", "status", "attempts", "response_status",
                   "latency_ms", "error", "completed_at"]
INLINE_DELIVERIES = 20


class WebhookForm(forms.ModelForm):
    events = forms.MultipleChoiceField(choices=WebhookEvent.choices,
                                       widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Webhook
        fields = ["tenant", "url", "events", "active", "description"]

    def clean_url(self) -> str:
        return _field_clean(services.url_clean, self.cleaned_data["url"])

    def clean_events(self) -> list[str]:
        return _field_clean(services.events_clean, self.cleaned_data["events"])

    def clean_tenant(self):
        tenant = self.cleaned_data["tenant"]
        if self.instance.pk is None:  # the service checks again, under a lock
            _field_clean(services.webhook_limit_check, tenant)
        return tenant


def _field_clean(clean, value):
    """The service's check, as the form field's error."""
    try:
        return clean(value)
    except ValidationError as error:
        raise ValidationError(error.messages) from error


class LatestDeliveriesFormSet(forms.BaseInlineFormSet):
    def get_queryset(self) -> QuerySet:
        # The log can be long: the page shows the newest; the delivery list has them all.
        queryset = super().get_queryset()
        return queryset.filter(pk__in=list(queryset.values_list("pk", flat=True)
                                           [:INLINE_DELIVERIES]))


class WebhookDeliveryInline(TenantScopedAdminMixin, admin.TabularInline):
    model = WebhookDelivery
    formset = LatestDeliveriesFormSet
    fields = DELIVERY_FIELDS
    readonly_fields = DELIVERY_FIELDS
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = f"latest {INLINE_DELIVERIES} deliveries"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Webhook)
class WebhookAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    form = WebhookForm
    list_display = ["url", "tenant", "active", "events", "created_by", "created_at"]
    list_filter = ["tenant", "active"]
    list_select_related = ["tenant", "created_by"]
    search_fields = ["url", "description"]
    inlines = [WebhookDeliveryInline]
    actions = ["send_test"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return ["tenant", "created_by", "created_at"] if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Webhook, form, change: bool) -> None:
        actor = actor_for(user=request.user,
                          tenant=obj.tenant if change else form.cleaned_data["tenant"])
        fields = {name: form.cleaned_data[name]
                  for name in ("url", "events", "active", "description")}
        if change:
            services.webhook_update(actor=actor, webhook_id=obj.pk, **fields)
            return
        created, secret = services.webhook_create(actor=actor, **fields)
        obj.pk = created.pk
        self.message_user(request, f"The webhook's signing secret, shown only this once: "
                                   f"{secret}", messages.WARNING)

    @admin.action(description="Send a test (ping) delivery to the selected webhooks")
    def send_test(self, request: HttpRequest, queryset: QuerySet) -> None:
        queued = 0
        for webhook in queryset.select_related("tenant"):
            try:
                services.webhook_test(actor=actor_for(user=request.user, tenant=webhook.tenant),
                                      webhook_id=webhook.pk)
                queued += 1
            except (ValidationError, PermissionDenied) as error:
                why = (" ".join(error.messages) if isinstance(error, ValidationError)
                       else str(error))
                self.message_user(request, f"{webhook.url}: {why}", messages.ERROR)
        if queued:
            self.message_user(request, f"{queued} test delivery(ies) queued.", messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """The delivery log: read only."""

    list_display = ["created_at", "webhook", "event", "status", "attempts",
                    "response_status", "latency_ms"]
    list_filter = ["status", "event"]
    list_select_related = ["webhook"]
    search_fields = ["uid", "webhook__url", "request_id"]
    readonly_fields = ["webhook", "uid", "request_id", "payload", "response_excerpt",
                       *DELIVERY_FIELDS, "last_attempt_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
