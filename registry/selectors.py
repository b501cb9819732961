"""Reads. Every queryset a caller can reach starts from one of the `*_visible_to` functions."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import reduce
from operator import or_

from django.contrib.auth.models import Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.search import SearchQuery
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    Expression,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.actor import Actor
from accounts.models import Tenant, TenantGroup, User
from registry.catalog import DATASET, KINDS, MODEL, CatalogKind, kind_of
from registry.models import (
    ACTIVE_UPLOAD_STATES,
    AccessLevel,
    ArtifactFile,
    CatalogEntry,
    Dataset,
    DatasetMetadata,
    DatasetVersion,
    DatasetVersionMetadata,
    MetadataKey,
    ModelAlias,
    ModelAliasEvent,
    ModelMetadata,
    ModelVersion,
    ModelVersionMetadata,
    RegisteredModel,
    ScanStatus,
    Tag,
    UploadSession,
    Version,
    Visibility,
)
from usage.models import DailyUsage


class SubqueryCount(Subquery):
    """COUNT(*) of a correlated subquery, as one scalar column (no GROUP BY on the outer query)."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _counted)"
    output_field = IntegerField()


def actor_tenant_group_ids(actor: Actor) -> QuerySet:
    """The actor's groups that belong to the actor's tenant: a group of another tenant the
    user is also in grants nothing here."""
    return TenantGroup.objects.filter(tenant=actor.tenant,
                                      group_id__in=actor.group_ids).values("group_id")


def _view_permission(entry_class: type[CatalogEntry]) -> Subquery:
    # A scalar subquery PostgreSQL evaluates once; joining auth_permission instead makes it
    # misjudge how many grants a user has.
    return Subquery(Permission.objects.filter(
        content_type__app_label=entry_class._meta.app_label,
        codename=kind_of(entry_class).codename(AccessLevel.VIEW),
    ).order_by().values("pk")[:1])


# How a list finds the rows the actor's grants cover depends on how many grants there are.
# A page reads rows in order until it has enough; a COUNT reads them all.
# - Up to MANY_GRANTS: a page hashes the grants once (`pk IN (...)`); a COUNT looks the
#   granted rows up by primary key (`pk = ANY(ARRAY(...))`) with the public and owned ones,
#   instead of reading the whole tenant.
# - From MANY_GRANTS on, the actor sees so much that a page finds its rows sooner by probing
#   the grant index for each row it reads (40,000 grants: ~1 ms against ~10 ms to hash
#   them), and a COUNT by hashing them (looking up 40,000 keys costs more).
MANY_GRANTS = 10_000


class ProbedExists(Exists):
    """EXISTS evaluated row by row: OFFSET 0 keeps PostgreSQL from turning it into a hashed
    set of the whole subquery, which is what `pk IN (...)` is for."""

    template = "EXISTS(%(subquery)s OFFSET 0)"


class AnyOfArray(Func):
    """`value = ANY(array)` (PostgreSQL). With an ARRAY(subquery), the grants are read once
    and the array lets the primary key index find their rows: a bitmap, ORed with the
    public and owned ones."""

    arg_joiner = " = ANY("
    template = "%(expressions)s)"
    output_field = BooleanField()


class PageOrScan(Expression):
    """One condition in two equivalent forms: `for_page` in a sliced query (a page, which
    stops at its limit), `for_scan` in any other (a COUNT or a subquery reads every row)."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, for_page, for_scan) -> None:
        super().__init__()
        self.for_page, self.for_scan = for_page, for_scan

    def get_source_expressions(self):
        return [self.for_page, self.for_scan]

    def set_source_expressions(self, expressions) -> None:
        self.for_page, self.for_scan = expressions

    def as_sql(self, compiler, connection):
        return compiler.compile(self.for_page if compiler.query.is_sliced else self.for_scan)


# The answer only picks how a list reads the grants, never what it shows: a minute-old one
# costs at most a slower plan, and saves a query on every list.
MANY_GRANTS_HINT_SECONDS = 60


def _holds_many_grants(actor: Actor, entry_class: type[CatalogEntry],
                       grants: list[QuerySet]) -> bool:
    """Whether one kind of the actor's grants reaches MANY_GRANTS rows (asked of the
    database at most once a minute per user, tenant and entry class)."""
    key = (f"registry:many-grants:{entry_class._meta.label_lower}:{actor.tenant.pk}:"
           f"{actor.user.pk}")
    many = cache.get(key)
    if many is None:
        # One query that stops at the MANY_GRANTS-th grant of each kind.
        exists = reduce(or_, (Exists(granted.values("pk")[MANY_GRANTS - 1:])
                              for granted in grants))
        many = Tenant.objects.filter(pk=actor.tenant.pk).values_list(
            ExpressionWrapper(exists, output_field=BooleanField()), flat=True).get()
        cache.set(key, many, MANY_GRANTS_HINT_SECONDS)
    return many


def _granted_condition(actor: Actor, entry_class: type[CatalogEntry], grants: list[QuerySet],
                       prefix: str, per_row: bool):
    """Rows whose entry one of `grants` (the actor's grant querysets) covers."""
    def exists(exists_class: type[Exists]):
        return reduce(or_, (exists_class(granted.filter(content_object=OuterRef(f"{prefix}pk")))
                            for granted in grants))

    if per_row:
        return exists(Exists)
    hashed = reduce(or_, (Q(**{f"{prefix}pk__in": granted.values("content_object_id")})
                          for granted in grants))
    if _holds_many_grants(actor, entry_class, grants):
        return PageOrScan(for_page=exists(ProbedExists), for_scan=hashed)
    if connection.vendor != "postgresql":
        return hashed  # one form fits both where the grants cannot drive an index scan
    listed = reduce(or_, (AnyOfArray(F(f"{prefix}pk"), ArraySubquery(
        granted.values("content_object_id"))) for granted in grants))
    return PageOrScan(for_page=hashed, for_scan=listed)


def visible_condition(actor: Actor, entry_class: type[CatalogEntry], prefix: str = "", *,
                      per_row: bool = False) -> Q:
    """Rows whose `entry_class` entry (reached through `prefix`, e.g. `model__`) the actor
    may see: entries of the actor's tenant that are public, owned by them, or shared with
    them or one of their groups in the tenant; tenant admins see the whole tenant; callers
    without a tenant see nothing.

    Sharing always grants `view` (higher levels are stored cumulatively), so one indexed id
    set per grantee kind decides; how a list reads it depends on how many grants the actor
    has (see MANY_GRANTS). Rows reached from a few others (a page's versions, an object by
    id) take `per_row`: one probe of the grant index per row.
    """
    if actor.tenant is None:
        return Q(pk__in=[])
    condition = Q(**{f"{prefix}tenant": actor.tenant})
    if actor.is_tenant_admin:
        return condition
    visible = Q(**{f"{prefix}visibility": Visibility.PUBLIC})
    if actor.user is not None:
        kind = kind_of(entry_class)
        user_permissions, group_permissions = kind.user_permissions, kind.group_permissions
        view = _view_permission(entry_class)
        grants = [user_permissions.objects.filter(user=actor.user, permission=view)]
        if actor.group_ids:
            grants.append(group_permissions.objects.filter(
                group_id__in=actor_tenant_group_ids(actor), permission=view))
        visible |= Q(**{f"{prefix}owner": actor.user})
        visible |= _granted_condition(actor, entry_class, grants, prefix, per_row)
    return condition & visible


def restrict_catalog(queryset: QuerySet, actor: Actor) -> QuerySet:
    """The models or datasets of `queryset` the actor may see (see `visible_condition`)."""
    if actor.tenant is None:
        return queryset.none()
    return queryset.filter(visible_condition(actor, queryset.model))


def catalog_visible_to(entry_class: type[CatalogEntry], actor: Actor) -> QuerySet:
    return restrict_catalog(entry_class.objects.all(), actor)


def models_visible_to(actor: Actor) -> QuerySet[RegisteredModel]:
    return catalog_visible_to(RegisteredModel, actor)


def datasets_visible_to(actor: Actor) -> QuerySet[Dataset]:
    return catalog_visible_to(Dataset, actor)


# Versions, files and aliases inherit from their model or dataset, checked through the join
# to it: a page's prefetch or a lookup by id checks only the parents of its own rows.

# A trashed version or file is hidden from every read path (lists, `node`, downloads,
# MLflow, pulls) as if it did not exist; only `trashed_*` below show it, to tenant admins.

def restrict_versions(queryset: QuerySet, actor: Actor, kind: CatalogKind) -> QuerySet[Version]:
    return queryset.filter(visible_condition(actor, kind.entry_class, f"{kind.parent_field}__",
                                             per_row=True), trashed_at__isnull=True)


def restrict_model_versions(queryset: QuerySet, actor: Actor) -> QuerySet[ModelVersion]:
    return restrict_versions(queryset, actor, MODEL)


def restrict_dataset_versions(queryset: QuerySet, actor: Actor) -> QuerySet[DatasetVersion]:
    return restrict_versions(queryset, actor, DATASET)


def versions_visible_to(actor: Actor, kind: CatalogKind) -> QuerySet[Version]:
    return restrict_versions(kind.version_class.objects.all(), actor, kind)


def model_versions_visible_to(actor: Actor) -> QuerySet[ModelVersion]:
    return versions_visible_to(actor, MODEL)


def dataset_versions_visible_to(actor: Actor) -> QuerySet[DatasetVersion]:
    return versions_visible_to(actor, DATASET)


def restrict_files(queryset: QuerySet, actor: Actor) -> QuerySet[ArtifactFile]:
    # The files of a trashed version are trashed with it (registry.trash), so their own
    # column decides.
    return queryset.filter(reduce(or_, (
        visible_condition(actor, kind.entry_class,
                          f"{kind.version_field}__{kind.parent_field}__", per_row=True)
        for kind in KINDS)), trashed_at__isnull=True)


def files_visible_to(actor: Actor) -> QuerySet[ArtifactFile]:
    return restrict_files(ArtifactFile.objects.all(), actor)


def untrashed(queryset: QuerySet) -> QuerySet:
    """Versions or files of a queryset reached from a row already checked visible (a
    version's files, a model's newest version), without the trashed ones."""
    return queryset.filter(trashed_at__isnull=True)


def version_files(version: Version) -> QuerySet[ArtifactFile]:
    """The files of a version already checked visible, without those trashed on their own."""
    return untrashed(version.files.all())


def trashed_versions(actor: Actor, kind: CatalogKind) -> QuerySet[Version]:
    """The tenant's trashed versions, newest trash first: its admins' (and the superuser's)
    to see and restore; nothing for anyone else."""
    if not actor.is_tenant_admin:
        return kind.version_class.objects.none()
    return (kind.version_class.objects
            .filter(**{f"{kind.parent_field}__tenant": actor.tenant}, trashed_at__isnull=False)
            .annotate(size=Sum("files__size"))
            .order_by("-trashed_at", "-pk"))


def trashed_files(actor: Actor, *, alone: bool = False) -> QuerySet[ArtifactFile]:
    """The tenant's trashed files for its admins, nothing for anyone else; with `alone`,
    only those trashed on their own (not with their version)."""
    if not actor.is_tenant_admin:
        return ArtifactFile.objects.none()
    files = ArtifactFile.objects.filter(tenant=actor.tenant, trashed_at__isnull=False)
    if alone:
        files = files.filter(
            Q(model_version__trashed_at__isnull=True, dataset_version__isnull=True)
            | Q(dataset_version__trashed_at__isnull=True, model_version__isnull=True))
    return files.order_by("-trashed_at", "-pk")


def files_of_entry(entry: CatalogEntry) -> QuerySet[ArtifactFile]:
    """Every file of every version of a model or dataset."""
    kind = kind_of(entry)
    return ArtifactFile.objects.filter(**{f"{kind.version_field}__{kind.parent_field}": entry})


def restrict_aliases(queryset: QuerySet, actor: Actor) -> QuerySet[ModelAlias]:
    return queryset.filter(visible_condition(actor, RegisteredModel, "model__", per_row=True))


def restrict_alias_events(queryset: QuerySet, actor: Actor) -> QuerySet[ModelAliasEvent]:
    return queryset.filter(visible_condition(actor, RegisteredModel, "model__", per_row=True))


def restrict_upload_sessions(queryset: QuerySet, actor: Actor) -> QuerySet[UploadSession]:
    """An upload in progress is its uploader's alone, in the tenant it was started in."""
    if actor.tenant is None or actor.user is None:
        return queryset.none()
    return queryset.filter(tenant=actor.tenant, created_by=actor.user)


def upload_sessions_visible_to(actor: Actor) -> QuerySet[UploadSession]:
    return restrict_upload_sessions(UploadSession.objects.all(), actor)


def tenant_vocabulary(entry_class: type[Tag] | type[MetadataKey], actor: Actor) -> QuerySet:
    if actor.tenant is None:
        return entry_class.objects.none()
    return entry_class.objects.filter(tenant=actor.tenant)


def tag_usage_count_expression(actor: Actor | None = None):
    """Models and datasets carrying the tag of the outer query: those `actor` may see, or all.

    Counting hidden objects would tell a member that private models carry a tag.
    """
    on_models = RegisteredModel.tags.through.objects.filter(tag=OuterRef("pk"))
    on_datasets = Dataset.tags.through.objects.filter(tag=OuterRef("pk"))
    if actor is not None:
        on_models = on_models.filter(registeredmodel__in=models_visible_to(actor))
        on_datasets = on_datasets.filter(dataset__in=datasets_visible_to(actor))
    return SubqueryCount(on_models) + SubqueryCount(on_datasets)


def metadata_key_usage_count_expression(actor: Actor | None = None):
    """Metadata entries using the name of the outer query, on objects `actor` may see, or all."""
    tables = [(ModelMetadata, "owner", RegisteredModel),
              (DatasetMetadata, "owner", Dataset),
              (ModelVersionMetadata, "owner__model", RegisteredModel),
              (DatasetVersionMetadata, "owner__dataset", Dataset)]
    counts = []
    for table, catalog_entry_path, entry_class in tables:
        entries = table.objects.filter(key=OuterRef("pk"))
        if actor is not None:
            entries = entries.filter(**{f"{catalog_entry_path}__in":
                                        catalog_visible_to(entry_class, actor)})
        counts.append(SubqueryCount(entries))
    return counts[0] + counts[1] + counts[2] + counts[3]


def tags_with_usage(actor: Actor) -> QuerySet[Tag]:
    return tenant_vocabulary(Tag, actor).annotate(
        usage_count=tag_usage_count_expression(actor)
    )


def metadata_keys_with_usage(actor: Actor) -> QuerySet[MetadataKey]:
    return tenant_vocabulary(MetadataKey, actor).annotate(
        usage_count=metadata_key_usage_count_expression(actor)
    )


def catalog_search(queryset: QuerySet, text: str) -> QuerySet:
    """Free-text search over name, description and README.

    PostgreSQL: the GIN-indexed `search_vector` (stemmed); elsewhere a portable
    case-insensitive substring match on each word.
    """
    text = text.strip()
    if not text:
        return queryset
    if connection.vendor == "postgresql":
        query = SearchQuery(text, config="english", search_type="websearch")
        return queryset.filter(search_vector=query)
    for word in text.split():
        queryset = queryset.filter(
            Q(name__icontains=word) | Q(description__icontains=word) | Q(readme__icontains=word)
        )
    return queryset


def model_version_find(
    actor: Actor,
    *,
    name: str | None = None,
    project_name: str | None = None,
    version: str | None = None,
    category: str | None = None,
    architecture: str | None = None,
    precision: str | None = None,
    alias: str | None = None,
) -> ModelVersion | None:
    """The newest visible model version matching all given criteria."""
    criteria = {
        "model__name": name,
        "model__project_name": project_name,
        "version": version,
        "model__category": category,
        "model__architecture": architecture,
        "precision": precision,
        "aliases__name": alias,
    }
    return (
        model_versions_visible_to(actor)
        .filter(**{field: value for field, value in criteria.items() if value is not None})
        .order_by(*ModelVersion.SEMVER_ORDER, "-created_at")
        .first()
    )


def alias_history(actor: Actor, *, model_id: int, alias: str) -> QuerySet[ModelAliasEvent]:
    """Every move of `alias` of a model the actor sees, newest first; nothing for a model
    it does not see, as for one that does not exist."""
    return (restrict_alias_events(ModelAliasEvent.objects.all(), actor)
            .filter(model_id=model_id, alias=alias).order_by("-at", "-id"))


def model_version_at(actor: Actor, *, model_id: int, alias: str,
                     at: datetime) -> ModelVersion | None:
    """The version `alias` named at `at`: the one its last move at or before `at` set it to
    (None before its first set and after a removal)."""
    event = alias_history(actor, model_id=model_id, alias=alias).filter(at__lte=at).first()
    if event is None or event.version_id is None:
        return None
    return model_versions_visible_to(actor).filter(pk=event.version_id).first()


# Worst first: a version (a model, a dataset) is as clean as its worst file; no files: clean.
SCAN_STATUS_PRECEDENCE = (ScanStatus.FLAGGED, ScanStatus.ERROR, ScanStatus.PENDING,
                          ScanStatus.RELEASED)


def version_scan_status(files: list[ArtifactFile]) -> str:
    """A version is as clean as its worst file."""
    statuses = {file.scan_status for file in files}
    for status in SCAN_STATUS_PRECEDENCE:
        if status in statuses:
            return status
    return ScanStatus.CLEAN


def with_worst_scan_status(queryset: QuerySet, files_of: str) -> QuerySet:
    """`queryset` annotated with `worst_scan_status`, the precedence above in SQL; `files_of`
    is the file's lookup to the row, e.g. `model_version` or `model_version__model`."""
    return queryset.annotate(worst_scan_status=Case(
        *[When(Exists(ArtifactFile.objects.filter(**{files_of: OuterRef("pk")},
                                                  scan_status=status)), then=Value(status))
          for status in SCAN_STATUS_PRECEDENCE],
        default=Value(ScanStatus.CLEAN), output_field=CharField(),
    ))


def _granted(actor: Actor, entry: CatalogEntry, level: str) -> bool:
    """Whether `level` or a higher one was granted to the actor or one of their groups."""
    kind = kind_of(entry)
    user_permissions, group_permissions = kind.user_permissions, kind.group_permissions
    codenames = kind.access_codenames(level)
    if user_permissions.objects.filter(content_object=entry, user=actor.user,
                                       permission__codename__in=codenames).exists():
        return True
    return bool(actor.group_ids) and group_permissions.objects.filter(
        content_object=entry, group_id__in=actor_tenant_group_ids(actor),
        permission__codename__in=codenames,
    ).exists()


@dataclass(frozen=True)
class Grant:
    """A user or a group of the tenant and the highest level shared with them."""

    level: str
    user: User | None = None
    group: TenantGroup | None = None


def catalog_entry_grants(entry: CatalogEntry) -> list[Grant]:
    """Who an entry is shared with: users by username, then groups by name."""
    kind = kind_of(entry)
    user_permissions, group_permissions = kind.user_permissions, kind.group_permissions
    rank = {kind.codename(level): index for index, level in enumerate(AccessLevel)}
    levels = list(AccessLevel)

    def highest(rows, grantee: str) -> dict:
        held: dict = {}
        for row in rows.filter(permission__codename__in=rank).select_related("permission"):
            key = getattr(row, grantee)
            held[key] = max(held.get(key, 0), rank[row.permission.codename])
        return held

    users = highest(user_permissions.objects.filter(content_object=entry)
                    .select_related("user"), "user")
    groups = highest(group_permissions.objects.filter(
        content_object=entry, group__tenant_group__tenant_id=entry.tenant_id,
    ).select_related("group__tenant_group"), "group")
    return ([Grant(level=levels[index], user=user)
             for user, index in sorted(users.items(), key=lambda item: item[0].username)]
            + [Grant(level=levels[index], group=group.tenant_group)
               for group, index in sorted(groups.items(), key=lambda item: item[0].name)])


def holds(actor: Actor, entry: CatalogEntry, level: str) -> bool:
    """Whether the actor holds `level` on an entry of their tenant.

    Tenant admins (and the superuser) and the owner hold every level; anyone else holds
    what was shared with them or their groups, whatever their role, so an explicit grant of
    `change` lets even a viewer edit. Anonymous callers hold nothing.
    """
    if actor.user is None or actor.tenant is None or entry.tenant_id != actor.tenant.pk:
        return False
    if actor.is_tenant_admin or entry.owner_id == actor.user.pk:
        return True
    return _granted(actor, entry, level)


def can_change(actor: Actor, entry: CatalogEntry) -> bool:
    """Owners, tenant admins and holders of `change` or `manage` may change an entry."""
    return holds(actor, entry, AccessLevel.CHANGE)


def can_manage(actor: Actor, entry: CatalogEntry) -> bool:
    """Owners, tenant admins and holders of `manage` may share and delete an entry."""
    return holds(actor, entry, AccessLevel.MANAGE)


def file_is_downloadable(artifact: ArtifactFile, tenant_scan_policy: str) -> bool:
    """Only clean or released files, or flagged ones where the tenant's policy is `warn`.

    Pending and errored files stay quarantined whatever the policy (fail closed), and so does a
    flagged file the scanner could not read to the end: what it did not read may be worse than
    what it found, which `warn` does not accept.
    """
    if artifact.scan_status in (ScanStatus.CLEAN, ScanStatus.RELEASED):
        return True
    if artifact.scan_status != ScanStatus.FLAGGED or tenant_scan_policy != "warn":
        return False
    latest = artifact.scan_reports.order_by("-started_at").only("error").first()
    return latest is not None and not latest.error


# --- The admin dashboard ---------------------------------------------------------------------

@dataclass
class TenantActivity:
    """What an operator looks at first, for one tenant (the admin console's index)."""

    tenant: Tenant
    stored_bytes: int
    stored_files: int
    files_by_scan_status: dict[str, int]
    open_uploads: int
    open_upload_bytes: int
    # (day, files pushed, downloads) for each of the last days, oldest first.
    daily: list[tuple[date, int, int]]
    recent_flagged: list[ArtifactFile]


def tenants_activity(tenants: list[Tenant], *, days: int = 14,
                     flagged_limit: int = 5) -> list[TenantActivity]:
    """A fixed number of grouped queries for any number of tenants (flagged files: one each)."""

    ids = [tenant.pk for tenant in tenants]
    first_day = timezone.localdate() - timedelta(days=days - 1)
    by_status: dict[int, dict[str, int]] = {pk: dict.fromkeys(ScanStatus.values, 0)
                                            for pk in ids}
    stored: dict[int, tuple[int, int]] = {}
    for row in (ArtifactFile.objects.filter(tenant__in=ids).values("tenant", "scan_status")
                .annotate(files=Count("pk"), size=Sum("size")).order_by()):
        by_status[row["tenant"]][row["scan_status"]] = row["files"]
        files, size = stored.get(row["tenant"], (0, 0))
        stored[row["tenant"]] = (files + row["files"], size + row["size"])
    uploads = {row["tenant"]: (row["sessions"], row["size"]) for row in (
        UploadSession.objects.filter(tenant__in=ids, state__in=ACTIVE_UPLOAD_STATES,
                                     expires_at__gt=timezone.now())
        .values("tenant").annotate(sessions=Count("pk"), size=Sum("size")).order_by())}
    pushes = {(row["tenant"], row["day"]): row["files"] for row in (
        ArtifactFile.objects.filter(tenant__in=ids, created_at__date__gte=first_day)
        .annotate(day=TruncDate("created_at")).values("tenant", "day")
        .annotate(files=Count("pk")).order_by())}
    pulls = {(row["tenant"], row["day"]): row["downloads"] for row in (
        DailyUsage.objects.filter(tenant__in=ids, day__gte=first_day)
        .values("tenant", "day").annotate(downloads=Sum("pulls")).order_by())}
    calendar = [first_day + timedelta(days=offset) for offset in range(days)]
    return [TenantActivity(
        tenant=tenant,
        stored_files=stored.get(tenant.pk, (0, 0))[0],
        stored_bytes=stored.get(tenant.pk, (0, 0))[1],
        files_by_scan_status=by_status[tenant.pk],
        open_uploads=uploads.get(tenant.pk, (0, 0))[0],
        open_upload_bytes=uploads.get(tenant.pk, (0, 0))[1],
        daily=[(day, pushes.get((tenant.pk, day), 0), pulls.get((tenant.pk, day), 0))
               for day in calendar],
        recent_flagged=list(
            ArtifactFile.objects.filter(tenant=tenant, scan_status=ScanStatus.FLAGGED)
            .select_related("model_version__model", "dataset_version__dataset")
            .order_by("-created_at", "-pk")[:flagged_limit]),
    ) for tenant in tenants]
