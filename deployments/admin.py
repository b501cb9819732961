"""Serving environments and inference services in the admin console, per tenant: written
through the services, which check the same rules as the API."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts.admin import TenantScopedAdminMixin
from accounts.selectors import actor_for
from accounts.validators import validate_name
from deployments import services
from deployments.models import InferenceService, ServingEnvironment
from registry.admin import DeleteThroughServiceAdminMixin


def _field_clean(clean, value):
    """The service's check, as the form field's error."""
    try:
        return clean(value)
    except ValidationError as error:
        raise ValidationError(error.messages) from error


class ServingEnvironmentForm(forms.ModelForm):
    class Meta:
        model = ServingEnvironment
        fields = ["tenant", "name", "description"]

    def clean_name(self) -> str:
        return _field_clean(validate_name, self.cleaned_data["name"])


@admin.register(ServingEnvironment)
class ServingEnvironmentAdmin(DeleteThroughServiceAdminMixin, TenantScopedAdminMixin,
                              admin.ModelAdmin):
    form = ServingEnvironmentForm
    list_display = ["name", "tenant", "description", "created_by", "updated_at"]
    list_filter = ["tenant"]
    list_select_related = ["tenant", "created_by"]
    search_fields = ["name", "description"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        recorded = ["created_by", "created_at", "updated_by", "updated_at"]
        return ["tenant", *recorded] if obj is not None else recorded

    def save_model(self, request: HttpRequest, obj: ServingEnvironment, form,
                   change: bool) -> None:
        actor = actor_for(user=request.user, tenant=obj.tenant)
        fields = {"name": form.cleaned_data["name"],
                  "description": form.cleaned_data["description"]}
        if change:
            services.environment_update(actor=actor, environment_id=obj.pk, **fields)
            return
        obj.pk = services.environment_create(actor=actor, **fields).pk

    def delete_model(self, request: HttpRequest, obj: ServingEnvironment) -> None:
        # The confirmation page lists the services (a protected relation) and refuses first.
        services.environment_delete(actor=actor_for(user=request.user, tenant=obj.tenant),
                                    environment_id=obj.pk)


class InferenceServiceForm(forms.ModelForm):
    labels = forms.JSONField(required=False, initial=dict,
                             help_text='A JSON object of strings, e.g. {"team": "vision"}.')

    class Meta:
        model = InferenceService
        fields = ["environment", "model_version", "name", "state", "runtime", "endpoint_url",
                  "labels"]

    def clean_name(self) -> str:
        return _field_clean(validate_name, self.cleaned_data["name"])

    def clean_endpoint_url(self) -> str:
        return _field_clean(services.endpoint_url_clean, self.cleaned_data["endpoint_url"])

    def clean_labels(self) -> dict:
        labels = self.cleaned_data["labels"]
        return _field_clean(services.labels_clean, {} if labels is None else labels)

    def clean(self) -> dict:
        cleaned = super().clean()
        environment, version = cleaned.get("environment"), cleaned.get("model_version")
        if environment and version and version.model.tenant_id != environment.tenant_id:
            self.add_error("model_version", "Choose a version of the environment's tenant.")
        return cleaned


@admin.register(InferenceService)
class InferenceServiceAdmin(DeleteThroughServiceAdminMixin, TenantScopedAdminMixin,
                            admin.ModelAdmin):
    form = InferenceServiceForm
    tenant_lookup = "environment__tenant"
    list_display = ["name", "environment", "model_version", "state", "runtime",
                    "endpoint_url", "updated_by", "updated_at"]
    list_filter = ["state", "environment__tenant"]
    list_select_related = ["environment", "model_version__model", "updated_by"]
    search_fields = ["name", "environment__name", "model_version__model__name", "runtime"]
    raw_id_fields = ["model_version"]
    readonly_fields = ["created_by", "created_at", "updated_by", "updated_at"]

    def save_model(self, request: HttpRequest, obj: InferenceService, form,
                   change: bool) -> None:
        actor = actor_for(user=request.user, tenant=obj.environment.tenant)
        fields = {name: form.cleaned_data[name]
                  for name in ("name", "state", "runtime", "endpoint_url", "labels")}
        version_id = form.cleaned_data["model_version"].pk
        if change:
            services.inference_service_update(actor=actor, service_id=obj.pk,
                                              model_version_id=version_id, **fields)
            return
        obj.pk = services.inference_service_create(
            actor=actor, environment_id=obj.environment_id, model_version_id=version_id,
            **fields).pk

    def delete_model(self, request: HttpRequest, obj: InferenceService) -> None:
        services.inference_service_delete(
            actor=actor_for(user=request.user, tenant=obj.environment.tenant),
            service_id=obj.pk)
