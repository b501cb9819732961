import strawberry

from cleanup import models

CleanupProposalStateEnum = strawberry.enum(models.ProposalState, name="CleanupProposalState")
CleanupItemStateEnum = strawberry.enum(models.ItemState, name="CleanupItemState")
