from datetime import datetime

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry import relay

from audit import selectors
from audit.graphql.types import AuditEntryType
from config.graphql_context import actor_of
from registry.graphql.connections import CountedListConnection


@strawberry.type
class Query:
    @strawberry_django.connection(
        CountedListConnection[AuditEntryType],
        description="The audit trail, newest first: all of your tenant's for its admins, "
                    "every tenant's for the superuser; for other members the entries about the "
                    "models and datasets they may see. Filters combine.",
    )
    def audit_log(self, info: strawberry.Info, object_id: relay.GlobalID | None = None,
                  actor: str | None = None, action: str | None = None,
                  since: datetime | None = None, until: datetime | None = None) -> QuerySet:
        return selectors.entries_filtered(
            actor_of(info), object_kind=object_id.type_name if object_id else None,
            object_id=str(object_id.node_id) if object_id else None, actor_name=actor,
            action=action, since=since, until=until)
