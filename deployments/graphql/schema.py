import strawberry
import strawberry_django
from django.core.exceptions import ValidationError
from strawberry import relay

from config.graphql_context import actor_of, decode_id
from deployments import selectors
from deployments.graphql.types import (
    DatasetVersionImpactType,
    InferenceServiceType,
    ModelVersionLineageType,
    ServingEnvironmentType,
)
from registry.graphql.connections import CountedListConnection


def _pk_or_none(global_id: relay.GlobalID, type_name: str) -> int | None:
    try:
        return decode_id(global_id, type_name)
    except ValidationError:  # unknown and invisible look alike: null
        return None


@strawberry.type
class Query:
    serving_environments: CountedListConnection[ServingEnvironmentType] = (
        strawberry_django.connection(description="The tenant's serving environments."))
    inference_services: CountedListConnection[InferenceServiceType] = (
        strawberry_django.connection(
            description="Inference services whose model the caller may see."))

    @strawberry_django.field(
        description="The model versions whose lineage names this dataset version, and the "
                    "inference services serving them: only those you may see; null for a "
                    "dataset version you cannot see.")
    def dataset_version_impact(self, info: strawberry.Info, id: relay.GlobalID
                               ) -> DatasetVersionImpactType | None:
        actor = actor_of(info)
        pk = _pk_or_none(id, "DatasetVersion")
        found = None if pk is None else selectors.dataset_version_impact(actor, pk)
        if found is None:
            return None
        dataset_version, model_versions = found
        model_versions = list(model_versions)
        services = selectors.inference_services_visible_to(actor).filter(
            model_version__in=model_versions).select_related("environment")
        return DatasetVersionImpactType(dataset_version=dataset_version,
                                        model_versions=model_versions,
                                        inference_services=list(services))

    @strawberry_django.field(
        description="The dataset versions a model version's lineage names, as far as you "
                    "may see them; null for a model version you cannot see.")
    def model_version_lineage(self, info: strawberry.Info, id: relay.GlobalID
                              ) -> ModelVersionLineageType | None:
        pk = _pk_or_none(id, "ModelVersion")
        found = None if pk is None else selectors.model_version_lineage(actor_of(info), pk)
        if found is None:
            return None
        model_version, dataset_versions = found
        return ModelVersionLineageType(model_version=model_version,
                                       dataset_versions=list(dataset_versions))
