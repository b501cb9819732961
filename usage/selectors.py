"""Reads of the usage counts. Callers pass an object they already checked visible (a
GraphQL node resolved through its type's `restrict`); the report is for tenant admins."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from accounts.actor import Actor
from accounts.errors import CodedValidationError, CommonErrorCode
from registry.catalog import kind_of
from registry.models import ArtifactFile, CatalogEntry, Version

from .models import DailyUsage

DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass(frozen=True)
class UsageDay:
    day: date
    pulls: int
    pushes: int
    pullers: int  # distinct callers that pulled that day


@dataclass(frozen=True)
class Usage:
    start: date
    end: date
    days: list[UsageDay]
    pulls: int
    pushes: int
    last_pulled_at: datetime | None  # ever, not only in the range


def _of(obj: ArtifactFile | Version | CatalogEntry) -> Q:
    """The usage rows of a file, of every file of a version, or of every version of an entry."""
    if isinstance(obj, ArtifactFile):
        return Q(file=obj)
    kind = kind_of(obj)
    if isinstance(obj, Version):
        return Q(**{f"file__{kind.version_field}": obj})
    return Q(**{f"file__{kind.version_field}__{kind.parent_field}": obj})


def usage_range(start: date | None, end: date | None) -> tuple[date, date]:
    """The days asked for: `end` defaults to today, `start` to DEFAULT_DAYS before it."""
    end = end or timezone.localdate()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise CodedValidationError({"from": "`from` is after `to`."},
                                   code=CommonErrorCode.INVALID_CHOICE)
    if (end - start).days >= MAX_DAYS:
        raise CodedValidationError({"from": f"At most {MAX_DAYS} days at once."},
                                   code=CommonErrorCode.INVALID_CHOICE)
    return start, end


def usage_of(obj: ArtifactFile | Version | CatalogEntry, *, start: date | None = None,
             end: date | None = None) -> Usage:
    """Per-day pulls and pushes of `obj` from `start` to `end` (both included; days without
    any are left out), the totals over them, and the last pull ever."""
    start, end = usage_range(start, end)
    rows = DailyUsage.objects.filter(_of(obj))
    days = [UsageDay(day=row["day"], pulls=row["day_pulls"], pushes=row["day_pushes"],
                     pullers=row["day_pullers"]) for row in (
        rows.filter(day__range=(start, end)).values("day")
        .annotate(day_pulls=Sum("pulls"), day_pushes=Sum("pushes"),
                  day_pullers=Count("caller", distinct=True, filter=Q(pulls__gt=0)))
        .order_by("day"))]
    return Usage(start=start, end=end, days=days,
                 pulls=sum(day.pulls for day in days), pushes=sum(day.pushes for day in days),
                 last_pulled_at=rows.aggregate(last=Max("last_pulled_at"))["last"])


@dataclass(frozen=True)
class ReportRow:
    kind: str
    name: str
    version: str
    path: str
    pulls: int
    last_pulled_at: datetime | None


def usage_report(actor: Actor, *, days: int) -> QuerySet | None:
    """Every file of the actor's tenant with its pulls over the last `days` days and its
    last pull ever, most pulled first; None unless the actor is a tenant admin."""
    if not actor.is_tenant_admin:
        return None
    since = timezone.localdate() - timedelta(days=days - 1)
    return (ArtifactFile.objects.filter(tenant=actor.tenant)
            .annotate(pulls=Sum("usage__pulls", filter=Q(usage__day__gte=since), default=0),
                      last_pulled_at=Max("usage__last_pulled_at"))
            .order_by("-pulls", "model_version__model__name", "dataset_version__dataset__name",
                      "pk"))


def report_rows(files: QuerySet) -> list[ReportRow]:
    rows = []
    for file in files.select_related("model_version__model", "dataset_version__dataset"):
        version = file.model_version or file.dataset_version
        kind = kind_of(version)
        rows.append(ReportRow(kind=kind.name, name=getattr(version, kind.parent_field).name,
                              version=version.version, path=file.path, pulls=file.pulls,
                              last_pulled_at=file.last_pulled_at))
    return rows
