"""Reads. Every queryset a caller can reach starts from one of the `*_visible_to` functions."""

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.contrib.auth.models import Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.search import SearchQuery
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    BooleanField,
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
)

from accounts.actor import Actor
from accounts.models import Tenant, TenantGroup, User
from registry.models import (
    AccessLevel,
    ArtifactFile,
    CatalogEntry,
    Dataset,
    DatasetGroupObjectPermission,
    DatasetMetadata,
    DatasetUserObjectPermission,
    DatasetVersion,
    DatasetVersionMetadata,
    MetadataKey,
    ModelAlias,
    ModelMetadata,
    ModelVersion,
    ModelVersionMetadata,
    RegisteredModel,
    RegisteredModelGroupObjectPermission,
    RegisteredModelUserObjectPermission,
    ScanStatus,
    Tag,
    UploadSession,
    Visibility,
)


class SubqueryCount(Subquery):
    """COUNT(*) of a correlated subquery, as one scalar column (no GROUP BY on the outer query)."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) _counted)"
    output_field = IntegerField()


PERMISSION_TABLES = {
    RegisteredModel: (RegisteredModelUserObjectPermission, RegisteredModelGroupObjectPermission),
    Dataset: (DatasetUserObjectPermission, DatasetGroupObjectPermission),
}


def access_codenames(entry_class: type[CatalogEntry], level: str) -> list[str]:
    """Guardian codenames that satisfy a check for `level`: it and every level above it."""
    levels = list(AccessLevel)
    model_name = entry_class._meta.model_name
    return [f"{held}_{model_name}" for held in levels[levels.index(level):]]


def grant_codenames(entry_class: type[CatalogEntry], level: str) -> list[str]:
    """Guardian codenames stored for a grant of `level`: it and every level below it, so
    guardian's own `has_perm(obj)` agrees with these rules."""
    levels = list(AccessLevel)
    model_name = entry_class._meta.model_name
    return [f"{held}_{model_name}" for held in levels[:levels.index(level) + 1]]


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
        codename=access_codenames(entry_class, AccessLevel.VIEW)[0],
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
        user_permissions, group_permissions = PERMISSION_TABLES[entry_class]
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

# Foreign keys from a model or dataset to one of its own versions: whoever may see the entry
# may see that version, so reading it along with the entry needs no check of its own.
OWN_VERSION_RELATIONS = (RegisteredModel.latest_version.field, Dataset.latest_version.field)


def restrict_model_versions(queryset: QuerySet, actor: Actor) -> QuerySet[ModelVersion]:
    return queryset.filter(visible_condition(actor, RegisteredModel, "model__", per_row=True))


def restrict_dataset_versions(queryset: QuerySet, actor: Actor) -> QuerySet[DatasetVersion]:
    return queryset.filter(visible_condition(actor, Dataset, "dataset__", per_row=True))


def model_versions_visible_to(actor: Actor) -> QuerySet[ModelVersion]:
    return restrict_model_versions(ModelVersion.objects.all(), actor)


def dataset_versions_visible_to(actor: Actor) -> QuerySet[DatasetVersion]:
    return restrict_dataset_versions(DatasetVersion.objects.all(), actor)


def restrict_files(queryset: QuerySet, actor: Actor) -> QuerySet[ArtifactFile]:
    return queryset.filter(
        visible_condition(actor, RegisteredModel, "model_version__model__", per_row=True)
        | visible_condition(actor, Dataset, "dataset_version__dataset__", per_row=True)
    )


def files_visible_to(actor: Actor) -> QuerySet[ArtifactFile]:
    return restrict_files(ArtifactFile.objects.all(), actor)


def files_of_entry(entry: CatalogEntry) -> QuerySet[ArtifactFile]:
    """Every file of every version of a model or dataset."""
    if isinstance(entry, RegisteredModel):
        return ArtifactFile.objects.filter(model_version__model=entry)
    return ArtifactFile.objects.filter(dataset_version__dataset=entry)


def restrict_aliases(queryset: QuerySet, actor: Actor) -> QuerySet[ModelAlias]:
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


def version_scan_status(files: list[ArtifactFile]) -> str:
    """A version is as clean as its worst file."""
    statuses = {file.scan_status for file in files}
    for status in (ScanStatus.FLAGGED, ScanStatus.ERROR, ScanStatus.PENDING,
                   ScanStatus.RELEASED):
        if status in statuses:
            return status
    return ScanStatus.CLEAN


def _granted(actor: Actor, entry: CatalogEntry, level: str) -> bool:
    """Whether `level` or a higher one was granted to the actor or one of their groups."""
    user_permissions, group_permissions = PERMISSION_TABLES[type(entry)]
    codenames = access_codenames(type(entry), level)
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
    user_permissions, group_permissions = PERMISSION_TABLES[type(entry)]
    rank = {f"{level}_{entry._meta.model_name}": index
            for index, level in enumerate(AccessLevel)}
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

    Pending and errored files stay quarantined whatever the policy (fail closed).
    """
    if artifact.scan_status in (ScanStatus.CLEAN, ScanStatus.RELEASED):
        return True
    return artifact.scan_status == ScanStatus.FLAGGED and tenant_scan_policy == "warn"
