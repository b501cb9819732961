from datetime import datetime

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry import relay
from strawberry_django.relay import DjangoListConnection

from config.graphql_context import actor_of, decode_id
from registry import selectors
from registry.graphql.connections import CountedListConnection
from registry.graphql.types import (
    AliasHistoryEntryType,
    DatasetType,
    MetadataKeyType,
    ModelVersionType,
    RegisteredModelType,
    TagType,
)


@strawberry.type
class Query:
    models: CountedListConnection[RegisteredModelType] = strawberry_django.connection(
        description="Registered models visible to the caller."
    )
    datasets: CountedListConnection[DatasetType] = strawberry_django.connection(
        description="Datasets visible to the caller."
    )

    @strawberry_django.connection(
        DjangoListConnection[TagType],
        description="The tenant's tag vocabulary, most used first.",
    )
    def tags(self, info: strawberry.Info) -> QuerySet:
        return selectors.tags_with_usage(actor_of(info)).order_by("-usage_count", "name")

    @strawberry_django.connection(
        DjangoListConnection[MetadataKeyType],
        description="The tenant's metadata names, most used first.",
    )
    def metadata_keys(self, info: strawberry.Info) -> QuerySet:
        return selectors.metadata_keys_with_usage(actor_of(info)).order_by("-usage_count",
                                                                            "name")

    @strawberry_django.field(
        description="The newest visible model version matching all given arguments."
    )
    def find_model_version(
        self,
        info: strawberry.Info,
        name: str | None = None,
        project_name: str | None = None,
        version: str | None = None,
        category: str | None = None,
        architecture: str | None = None,
        precision: str | None = None,
        alias: str | None = None,
    ) -> ModelVersionType | None:
        return selectors.model_version_find(
            actor_of(info), name=name, project_name=project_name, version=version,
            category=category, architecture=architecture, precision=precision, alias=alias,
        )

    @strawberry_django.connection(
        DjangoListConnection[AliasHistoryEntryType],
        description="Every move of an alias of a visible model, newest first.",
    )
    def alias_history(self, info: strawberry.Info, model_id: relay.GlobalID,
                      alias: str) -> QuerySet:
        return selectors.alias_history(
            actor_of(info), model_id=decode_id(model_id, "RegisteredModel", field="modelId"),
            alias=alias,
        )

    @strawberry_django.field(
        description="The version that held the alias at `at` (null if none did)."
    )
    def model_version_at(self, info: strawberry.Info, model_id: relay.GlobalID, alias: str,
                         at: datetime) -> ModelVersionType | None:
        return selectors.model_version_at(
            actor_of(info), model_id=decode_id(model_id, "RegisteredModel", field="modelId"),
            alias=alias, at=at,
        )
