"""Retention policy, approval and exclusion (tenant admins): decode ids, call one service."""

import strawberry
import strawberry_django
from strawberry import relay

from cleanup import services
from cleanup.graphql import inputs
from cleanup.graphql.types import CleanupItemType, CleanupProposalType, RetentionPolicyType
from config.graphql_context import actor_of, decode_id


@strawberry.type
class Mutation:
    @strawberry_django.mutation(handle_django_errors=True,
                                description="Tenant admins: change the retention policy.")
    def update_retention_policy(self, info: strawberry.Info,
                                data: inputs.UpdateRetentionPolicyInput) -> RetentionPolicyType:
        return RetentionPolicyType.of(services.policy_update(
            actor=actor_of(info), enabled=data.enabled, dormant_days=data.dormant_days,
            keep_newest=data.keep_newest, applies_to_models=data.applies_to_models,
            applies_to_datasets=data.applies_to_datasets))

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Tenant admins: move a proposal's items (all proposed ones, or those "
                    "given) to the trash; any protected since the proposal is skipped.")
    def approve_cleanup_proposal(self, info: strawberry.Info,
                                 data: inputs.ApproveCleanupProposalInput
                                 ) -> CleanupProposalType:
        item_ids = None if data.item_ids is None else [
            decode_id(item_id, "CleanupItem", field="itemIds") for item_id in data.item_ids]
        return services.proposal_approve(
            actor=actor_of(info), proposal_id=decode_id(data.id, "CleanupProposal"),
            item_ids=item_ids)

    @strawberry_django.mutation(
        handle_django_errors=True,
        description="Tenant admins: keep an item's version out of cleanup for good (a "
                    "trashed one is restored).")
    def exclude_cleanup_item(self, info: strawberry.Info, id: relay.GlobalID
                             ) -> CleanupItemType:
        return services.item_exclude(actor=actor_of(info),
                                     item_id=decode_id(id, "CleanupItem"))
