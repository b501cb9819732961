import strawberry
from strawberry import relay


@strawberry.input
class UpdateRetentionPolicyInput:
    """Fields left out stay as they are."""

    enabled: bool | None = None
    dormant_days: int | None = strawberry.field(
        default=None, description="Dormant after this many days without a pull (1-3650).")
    keep_newest: int | None = strawberry.field(
        default=None, description="Versions kept per model or dataset, newest first (0-1000).")
    applies_to_models: bool | None = None
    applies_to_datasets: bool | None = None


@strawberry.input
class ApproveCleanupProposalInput:
    id: relay.GlobalID
    item_ids: list[relay.GlobalID] | None = strawberry.field(
        default=None, description="Only these items (CleanupItem ids); all proposed ones "
                                  "when left out.")
