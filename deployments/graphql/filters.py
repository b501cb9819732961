import strawberry_django
from django.db.models import Q
from strawberry import UNSET, relay
from strawberry_django import BaseFilterLookup, DatetimeFilterLookup, StrFilterLookup

from accounts.validators import is_database_id
from deployments import models
from deployments.graphql.enums import DeploymentStateEnum


def _pk_of(global_id: relay.GlobalID, type_name: str) -> int | None:
    """The primary key of a global id of `type_name`; None (matches nothing) otherwise."""
    if global_id.type_name != type_name or not is_database_id(str(global_id.node_id)):
        return None
    return int(global_id.node_id)


@strawberry_django.filter_type(models.ServingEnvironment, name="ServingEnvironmentFilter")
class ServingEnvironmentFilter:
    name: StrFilterLookup | None = UNSET
    created_at: DatetimeFilterLookup | None = UNSET


@strawberry_django.filter_type(models.InferenceService, name="InferenceServiceFilter")
class InferenceServiceFilter:
    """Combined with AND."""

    name: StrFilterLookup | None = UNSET
    state: BaseFilterLookup[DeploymentStateEnum] | None = UNSET
    runtime: StrFilterLookup | None = UNSET
    created_at: DatetimeFilterLookup | None = UNSET

    @strawberry_django.filter_field(description="Services in this serving environment.")
    def environment(self, value: relay.GlobalID, prefix: str) -> Q:
        return Q(**{f"{prefix}environment_id": _pk_of(value, "ServingEnvironment")})

    @strawberry_django.filter_field(description="Services serving this model version.")
    def model_version(self, value: relay.GlobalID, prefix: str) -> Q:
        return Q(**{f"{prefix}model_version_id": _pk_of(value, "ModelVersion")})

    @strawberry_django.filter_field(description="Services serving a version of this model.")
    def model(self, value: relay.GlobalID, prefix: str) -> Q:
        return Q(**{f"{prefix}model_version__model_id": _pk_of(value, "RegisteredModel")})
