import strawberry
import strawberry_django

from cleanup import selectors
from cleanup.graphql.types import CleanupProposalType, RetentionPolicyType
from config.graphql_context import actor_of
from registry.graphql.connections import CountedListConnection


@strawberry.type
class Query:
    cleanup_proposals: CountedListConnection[CleanupProposalType] = (
        strawberry_django.connection(
            description="The tenant's cleanup proposals, newest first, for its tenant admins."))

    @strawberry.field(description="The tenant's retention policy, for its tenant admins; "
                                  "null for anyone else.")
    def retention_policy(self, info: strawberry.Info) -> RetentionPolicyType | None:
        actor = actor_of(info)
        if not actor.is_tenant_admin:
            return None
        return RetentionPolicyType.of(selectors.policy_of(actor.tenant))
