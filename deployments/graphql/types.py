from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from accounts.graphql.types import UserType
from config.graphql_node import RestrictedNode, model_type
from deployments import models, selectors
from deployments.graphql.enums import DeploymentStateEnum
from deployments.graphql.filters import InferenceServiceFilter, ServingEnvironmentFilter

ModelVersionType = Annotated["ModelVersionType", strawberry.lazy("registry.graphql.types")]
DatasetVersionType = Annotated["DatasetVersionType", strawberry.lazy("registry.graphql.types")]


@model_type(models.ServingEnvironment, name="ServingEnvironment",
            filters=ServingEnvironmentFilter)
class ServingEnvironmentType(RestrictedNode):
    name: str
    description: str
    created_by: UserType | None
    updated_by: UserType | None
    created_at: datetime
    updated_at: datetime

    restrict = staticmethod(selectors.restrict_environments)


@model_type(models.InferenceService, name="InferenceService", filters=InferenceServiceFilter)
class InferenceServiceType(RestrictedNode):
    name: str
    environment: ServingEnvironmentType
    model_version: ModelVersionType
    state: DeploymentStateEnum
    runtime: str
    endpoint_url: str
    labels: JSON
    created_by: UserType | None
    updated_by: UserType | None
    created_at: datetime
    updated_at: datetime

    restrict = staticmethod(selectors.restrict_inference_services)


@strawberry.type(name="DatasetVersionImpact")
class DatasetVersionImpactType:
    """What a dataset version reaches through lineage, as far as the caller may see."""

    dataset_version: DatasetVersionType
    model_versions: list[ModelVersionType] = strawberry.field(
        description="Model versions whose lineage names the dataset version; each lists its "
                    "aliases and inference services.")
    inference_services: list[InferenceServiceType] = strawberry.field(
        description="The inference services serving those model versions.")


@strawberry.type(name="ModelVersionLineage")
class ModelVersionLineageType:
    model_version: ModelVersionType
    dataset_versions: list[DatasetVersionType] = strawberry.field(
        description="The dataset versions its lineage names.")
