from datetime import datetime

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry.scalars import JSON

from accounts.actor import Actor
from audit import models, selectors
from config.graphql_node import RestrictedNode, model_type

ActorKindEnum = strawberry.enum(models.ActorKind, name="AuditActorKind")


@model_type(models.AuditEntry, name="AuditEntry")
class AuditEntryType(RestrictedNode):
    created_at: datetime
    tenant_slug: str
    actor_kind: ActorKindEnum
    actor_name: str = strawberry_django.field(
        description="Username, API token label or job name, as it was then.")
    action: str
    object_kind: str = strawberry_django.field(
        description="The GraphQL type of the object (RegisteredModel, ModelVersion, ...).")
    object_id: str = strawberry_django.field(description="Its database id.")
    object_name: str
    changes: JSON = strawberry_django.field(description='{"field": [before, after]}')
    request_id: str
    client_address: str | None

    @staticmethod
    def restrict(queryset: QuerySet, actor: Actor) -> QuerySet:
        return queryset.filter(pk__in=selectors.entries_visible_to(actor))
