from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from config.graphql_node import RestrictedNode, model_field, model_type
from scanning import models, selectors
from scanning.graphql.enums import FindingSeverityEnum, ScanTriggerEnum, ScanVerdictEnum

if TYPE_CHECKING:
    from registry.graphql.types import ArtifactFileType


@model_type(models.ScanFinding, name="ScanFinding")
class ScanFindingType(RestrictedNode):
    severity: FindingSeverityEnum
    code: str = model_field(description="Stable identifier, e.g. pickle.unsafe_global.")
    message: str
    location: str = model_field(
        description="Where in the file: a member name, an offset, a nested path."
    )

    restrict = staticmethod(selectors.restrict_findings)


@model_type(models.ScanReport, name="ScanReport")
class ScanReportType(RestrictedNode):
    file: Annotated["ArtifactFileType", strawberry.lazy("registry.graphql.types")]
    trigger: ScanTriggerEnum
    scanner: str = model_field(description="The scanner the content was routed to.")
    scanner_version: str
    verdict: ScanVerdictEnum = model_field(
        description="ERROR until the scan finishes: an interrupted scan never passes."
    )
    detected_format: str
    error: str = model_field(description="Why the scan could not complete.")
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    findings: list[ScanFindingType]

    restrict = staticmethod(selectors.restrict_reports)
