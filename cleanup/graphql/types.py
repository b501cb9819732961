from datetime import datetime
from typing import Annotated

import strawberry
import strawberry_django
from strawberry_django.relay import DjangoListConnection

from accounts.graphql.types import UserType
from cleanup import models, selectors
from cleanup.graphql.enums import CleanupItemStateEnum, CleanupProposalStateEnum
from cleanup.graphql.filters import CleanupItemFilter, CleanupProposalFilter
from config.graphql_node import RestrictedNode, model_type
from registry.graphql.scalars import BigInt

ModelVersionType = Annotated["ModelVersionType", strawberry.lazy("registry.graphql.types")]
DatasetVersionType = Annotated["DatasetVersionType", strawberry.lazy("registry.graphql.types")]


@strawberry.type(name="RetentionPolicy")
class RetentionPolicyType:
    """What counts as dormant in the tenant; nothing is proposed while it is disabled."""

    enabled: bool
    dormant_days: int = strawberry.field(
        description="A version older than this and not pulled for as long is dormant.")
    keep_newest: int = strawberry.field(
        description="The newest this many versions of every model or dataset are kept.")
    applies_to_models: bool
    applies_to_datasets: bool
    updated_at: datetime | None = strawberry.field(description="Null until first changed.")

    @classmethod
    def of(cls, policy: models.RetentionPolicy) -> "RetentionPolicyType":
        return cls(enabled=policy.enabled, dormant_days=policy.dormant_days,
                   keep_newest=policy.keep_newest, applies_to_models=policy.applies_to_models,
                   applies_to_datasets=policy.applies_to_datasets,
                   updated_at=policy.updated_at)


@model_type(models.ProposalItem, name="CleanupItem", filters=CleanupItemFilter)
class CleanupItemType(RestrictedNode):
    label: str = strawberry_django.field(description="Model or dataset name and version, "
                                                     "kept when the version is gone.")
    model_version: ModelVersionType | None
    dataset_version: DatasetVersionType | None
    version_created_at: datetime
    last_pulled_at: datetime | None
    newer_versions: int
    size: BigInt = strawberry_django.field(description="Bytes of the version's files.")
    reclaimable_bytes: BigInt = strawberry_django.field(
        description="Bytes deleting it frees after deduplication, as proposed.")
    state: CleanupItemStateEnum
    skip_reason: str
    reclaimed_bytes: BigInt
    purged_files: int
    updated_at: datetime

    restrict = staticmethod(selectors.restrict_items)

    @strawberry_django.field(only=["last_pulled_at", "newer_versions", "version_created_at"],
                             description="Why it was proposed.")
    def reason(self) -> str:
        return self.reason


@model_type(models.CleanupProposal, name="CleanupProposal", filters=CleanupProposalFilter)
class CleanupProposalType(RestrictedNode):
    created_at: datetime
    state: CleanupProposalStateEnum
    dormant_days: int
    keep_newest: int
    item_count: int
    size: BigInt
    reclaimable_bytes: BigInt
    approved_by: UserType | None
    approved_at: datetime | None
    purged_at: datetime | None
    purged_versions: int
    purged_files: int
    reclaimed_bytes: BigInt
    items: DjangoListConnection[CleanupItemType] = strawberry_django.connection()

    restrict = staticmethod(selectors.restrict_proposals)
