"""Serving records: a tenant's serving environments, and the inference services in them that
serve a model version (as in Kubeflow's model registry)."""

from django.conf import settings
from django.db import models

from accounts.models import Tenant
from registry.models import ModelVersion


class ServingEnvironment(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE,
                               related_name="serving_environments")
    name = models.CharField(max_length=200)
    description = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"],
                                               name="serving_environment_name_unique")]

    def __str__(self) -> str:
        return self.name


class DeploymentState(models.TextChoices):
    DEPLOYED = "deployed", "Deployed"
    UNDEPLOYED = "undeployed", "Undeployed"


class InferenceService(models.Model):
    # services.environment_delete refuses, with a code, while services remain; RESTRICT
    # (unlike PROTECT) lets a tenant's deletion take both, its models' versions cascading.
    environment = models.ForeignKey(ServingEnvironment, on_delete=models.RESTRICT,
                                    related_name="inference_services")
    # An UNDEPLOYED record goes with its version; a DEPLOYED one blocks the version's deletion
    # in registry.services.version_delete.
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE,
                                      related_name="inference_services")
    name = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=DeploymentState.choices,
                             default=DeploymentState.DEPLOYED)
    runtime = models.CharField(max_length=100, blank=True,
                               help_text="e.g. triton, openvino-model-server, kserve")
    endpoint_url = models.CharField(max_length=2000, blank=True)
    labels = models.JSONField(default=dict, blank=True, help_text="string → string")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["environment", "name", "pk"]
        constraints = [models.UniqueConstraint(fields=["environment", "name"],
                                               name="inference_service_name_unique")]
        indexes = [models.Index(fields=["model_version", "state"],
                                name="inference_service_version")]

    def __str__(self) -> str:
        return self.name
