from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry import relay

from config.graphql_context import actor_of
from scanning import models, selectors
from scanning.graphql.enums import FindingSeverityEnum, ScanTriggerEnum, ScanVerdictEnum

if TYPE_CHECKING:
    from registry.graphql.types import ArtifactFileType


@strawberry_django.type(models.ScanFinding, name="ScanFinding")
class ScanFindingType(relay.Node):
    severity: FindingSeverityEnum
    code: str = strawberry_django.field(description="Stable identifier, e.g. pickle.unsafe_global.")
    message: str
    location: str = strawberry_django.field(
        description="Where in the file: a member name, an offset, a nested path."
    )

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return selectors.restrict_findings(queryset, actor_of(info))


@strawberry_django.type(models.ScanReport, name="ScanReport")
class ScanReportType(relay.Node):
    file: Annotated["ArtifactFileType", strawberry.lazy("registry.graphql.types")]
    trigger: ScanTriggerEnum
    scanner: str = strawberry_django.field(description="The scanner the content was routed to.")
    scanner_version: str
    verdict: ScanVerdictEnum = strawberry_django.field(
        description="ERROR until the scan finishes: an interrupted scan never passes."
    )
    detected_format: str
    error: str = strawberry_django.field(description="Why the scan could not complete.")
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    findings: list[ScanFindingType]

    @classmethod
    def get_queryset(cls, queryset: QuerySet, info: strawberry.Info, **kwargs) -> QuerySet:
        return selectors.restrict_reports(queryset, actor_of(info))
