"""Reads of serving records, and the impact queries that follow lineage to them.

Environments belong to the tenant: whoever reads the tenant sees them. An inference service
is seen by whoever sees its model version's model (registry.selectors.visible_condition)."""

from django.db.models import QuerySet

from accounts.actor import Actor
from deployments.models import DeploymentState, InferenceService, ServingEnvironment
from registry import selectors as registry_selectors
from registry.models import DatasetVersion, ModelVersion, RegisteredModel


def restrict_environments(queryset: QuerySet, actor: Actor) -> QuerySet[ServingEnvironment]:
    # Whoever reads the tenant (anonymous callers too, where it allows anonymous read of
    # public objects): a service they see names its environment.
    if actor.tenant is None:
        return queryset.none()
    return queryset.filter(tenant=actor.tenant)


def environments_visible_to(actor: Actor) -> QuerySet[ServingEnvironment]:
    return restrict_environments(ServingEnvironment.objects.all(), actor)


def restrict_inference_services(queryset: QuerySet, actor: Actor) -> QuerySet[InferenceService]:
    # A service of a trashed version goes with it (restored or purged with it).
    return queryset.filter(registry_selectors.visible_condition(
        actor, RegisteredModel, "model_version__model__", per_row=True),
        model_version__trashed_at__isnull=True)


def inference_services_visible_to(actor: Actor) -> QuerySet[InferenceService]:
    return restrict_inference_services(InferenceService.objects.all(), actor)


def deployed_version_ids() -> QuerySet:
    """Ids of the model versions a DEPLOYED inference service serves (cleanup keeps them)."""
    return (InferenceService.objects.filter(state=DeploymentState.DEPLOYED)
            .values("model_version_id"))


def deployed_services_of(versions) -> QuerySet[InferenceService]:
    """The DEPLOYED services serving any of `versions` (model versions or their ids)."""
    return (InferenceService.objects.filter(model_version__in=versions,
                                            state=DeploymentState.DEPLOYED)
            .select_related("environment"))


def version_is_deployed(version: ModelVersion) -> bool:
    return deployed_services_of([version]).exists()


def dataset_version_impact(actor: Actor, dataset_version_id: int
                           ) -> tuple[DatasetVersion, QuerySet[ModelVersion]] | None:
    """The dataset version and the visible model versions whose lineage names it directly;
    None when the actor cannot see the dataset version."""
    dataset_version = (registry_selectors.dataset_versions_visible_to(actor)
                       .filter(pk=dataset_version_id).first())
    if dataset_version is None:
        return None
    return dataset_version, (registry_selectors.model_versions_visible_to(actor)
                             .filter(lineagelink__dataset_version=dataset_version)
                             .order_by("model__name", *ModelVersion.SEMVER_ORDER))


def model_version_lineage(actor: Actor, model_version_id: int
                          ) -> tuple[ModelVersion, QuerySet[DatasetVersion]] | None:
    """The model version and the visible dataset versions its lineage names; None when the
    actor cannot see the model version."""
    model_version = (registry_selectors.model_versions_visible_to(actor)
                     .filter(pk=model_version_id).first())
    if model_version is None:
        return None
    return model_version, (registry_selectors.dataset_versions_visible_to(actor)
                           .filter(lineagelink__model_version=model_version)
                           .order_by("dataset__name", *DatasetVersion.SEMVER_ORDER))
