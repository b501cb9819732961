import strawberry
import strawberry_django
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from strawberry import relay
from strawberry_django.relay import DjangoListConnection

from config.graphql_context import actor_of
from registry.graphql.ids import version_from_global_id
from scanning import selectors
from scanning.graphql.types import ScanReportType
from scanning.models import ScanReport


@strawberry.type
class Query:
    @strawberry_django.connection(
        DjangoListConnection[ScanReportType],
        description="Scan reports of a version's files, by path, newest first; empty for a "
                    "version you cannot see.",
    )
    def scan_reports(self, info: strawberry.Info, version_id: relay.GlobalID) -> QuerySet:
        try:
            version = version_from_global_id(actor_of(info), version_id)
        except ValidationError:  # unknown and invisible look alike
            return ScanReport.objects.none()
        return selectors.version_reports(version)
