import strawberry_django
from strawberry import UNSET
from strawberry_django import BaseFilterLookup, DatetimeFilterLookup

from cleanup import models
from cleanup.graphql.enums import CleanupItemStateEnum, CleanupProposalStateEnum


@strawberry_django.filter_type(models.CleanupProposal, name="CleanupProposalFilter")
class CleanupProposalFilter:
    state: BaseFilterLookup[CleanupProposalStateEnum] | None = UNSET
    created_at: DatetimeFilterLookup | None = UNSET


@strawberry_django.filter_type(models.ProposalItem, name="CleanupItemFilter")
class CleanupItemFilter:
    state: BaseFilterLookup[CleanupItemStateEnum] | None = UNSET
