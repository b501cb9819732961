import strawberry
import strawberry_django
from django.db.models import Q, QuerySet
from strawberry import UNSET
from strawberry_django import (
    BaseFilterLookup,
    DatetimeFilterLookup,
    Ordering,
    StrFilterLookup,
)

from registry import models, selectors
from registry.graphql.enums import StatusEnum, VisibilityEnum, VocabularyUsageEnum


@strawberry.input(description="Matches entries whose metadata `name` has exactly `value`.")
class MetadataMatchInput:
    name: str
    value: str


@strawberry.input
class CatalogFilterFields:
    """Filters shared by models and datasets; combined with AND."""

    name: StrFilterLookup | None = UNSET
    project_name: StrFilterLookup | None = UNSET
    status: BaseFilterLookup[StatusEnum] | None = UNSET
    visibility: BaseFilterLookup[VisibilityEnum] | None = UNSET
    category: StrFilterLookup | None = UNSET
    architecture: StrFilterLookup | None = UNSET
    framework: StrFilterLookup | None = UNSET
    license: StrFilterLookup | None = UNSET
    author: StrFilterLookup | None = UNSET
    organization: StrFilterLookup | None = UNSET
    created_at: DatetimeFilterLookup | None = UNSET
    updated_at: DatetimeFilterLookup | None = UNSET

    @strawberry_django.filter_field(description="Username of the owner.")
    def owner(self, value: str, prefix: str) -> Q:
        return Q(**{f"{prefix}owner__username": value})

    @strawberry_django.filter_field(description="Entries carrying all of these tags.")
    def tags(self, value: list[str], prefix: str) -> Q:
        entry_class = self.entry_class
        condition = Q()
        for tag in set(value):
            condition &= Q(**{f"{prefix}pk__in": entry_class.objects.filter(tags__name=tag)
                              .values("pk")})
        return condition

    @strawberry_django.filter_field(description="Entries having all of these name=value pairs.")
    def metadata(self, value: list[MetadataMatchInput], prefix: str) -> Q:
        table = self.metadata_table
        condition = Q()
        for match in value:
            owners = table.objects.filter(key__name=match.name, value=match.value)
            condition &= Q(**{f"{prefix}pk__in": owners.values("owner_id")})
        return condition

    @strawberry_django.filter_field(
        description="Free text over name, description and README (stemmed full-text search "
                    "on PostgreSQL)."
    )
    def search(self, value: str, queryset: QuerySet, prefix: str) -> tuple[QuerySet, Q]:
        return selectors.catalog_search(queryset, value), Q()


@strawberry_django.filter_type(models.RegisteredModel, name="RegisteredModelFilter")
class RegisteredModelFilter(CatalogFilterFields):
    entry_class = models.RegisteredModel
    metadata_table = models.ModelMetadata


@strawberry_django.filter_type(models.Dataset, name="DatasetFilter")
class DatasetFilter(CatalogFilterFields):
    entry_class = models.Dataset
    metadata_table = models.DatasetMetadata


@strawberry.input
class CatalogOrderFields:
    name: Ordering | None = UNSET
    project_name: Ordering | None = UNSET
    status: Ordering | None = UNSET
    created_at: Ordering | None = UNSET
    updated_at: Ordering | None = UNSET


@strawberry_django.order_type(models.RegisteredModel, name="RegisteredModelOrder")
class RegisteredModelOrder(CatalogOrderFields):
    pass


@strawberry_django.order_type(models.Dataset, name="DatasetOrder")
class DatasetOrder(CatalogOrderFields):
    pass


@strawberry.input
class VocabularyFilterFields:
    usage: BaseFilterLookup[VocabularyUsageEnum] | None = UNSET
    name: StrFilterLookup | None = UNSET

    @strawberry_django.filter_field(description="Autocomplete: names starting with this text.")
    def prefix(self, value: str, prefix: str) -> Q:
        return Q(**{f"{prefix}name__istartswith": value})


@strawberry_django.filter_type(models.Tag, name="TagFilter")
class TagFilter(VocabularyFilterFields):
    pass


@strawberry_django.filter_type(models.MetadataKey, name="MetadataKeyFilter")
class MetadataKeyFilter(VocabularyFilterFields):
    pass


@strawberry_django.order_type(models.Tag, name="VocabularyOrder")
class VocabularyOrder:
    name: strawberry.auto
    created_at: strawberry.auto
    # An annotation of the `tags` and `metadataKeys` querysets.
    usage_count: Ordering | None = UNSET
