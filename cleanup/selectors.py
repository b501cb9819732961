"""Which versions are dormant, and why a version is not (any more).

The candidates are one SQL statement per kind (model versions, dataset versions), run by the
database over the whole tenant: a window function ranks every version of a model or dataset
by semantic precedence, and NOT EXISTS subqueries leave out whatever is in use. Nothing is
read into Python; `services.proposal_create` inserts the result straight into the proposal.
"""

from datetime import datetime, timedelta

from django.db.models import Max, QuerySet

from accounts.actor import Actor
from accounts.models import Tenant
from cleanup.models import (
    CleanupProposal,
    ExcludedVersion,
    ItemState,
    ProposalItem,
    RetentionPolicy,
)
from deployments.models import DeploymentState, InferenceService
from registry.catalog import DATASET, MODEL, CatalogKind, kind_of
from registry.models import (
    ArtifactFile,
    LineageLink,
    ModelAlias,
    ModelVersion,
    Status,
    Version,
)

# A model in one of these states is in use: its versions, and their lineage, are kept.
PROTECTED_STATUSES = (Status.PRODUCTION, Status.DEPLOY)


def policy_of(tenant: Tenant) -> RetentionPolicy:
    """The tenant's policy; the defaults (disabled, unsaved) when it has none yet."""
    return (RetentionPolicy.objects.filter(tenant=tenant).first()
            or RetentionPolicy(tenant=tenant))


def enabled_policies(tenant: Tenant | None = None) -> QuerySet[RetentionPolicy]:
    policies = RetentionPolicy.objects.filter(enabled=True).select_related("tenant")
    return policies if tenant is None else policies.filter(tenant=tenant)


def restrict_proposals(queryset: QuerySet, actor: Actor) -> QuerySet[CleanupProposal]:
    """The tenant admins see their tenant's proposals and items; nobody else sees any."""
    if not actor.is_tenant_admin:
        return queryset.none()
    return queryset.filter(tenant=actor.tenant)


def restrict_items(queryset: QuerySet, actor: Actor) -> QuerySet[ProposalItem]:
    if not actor.is_tenant_admin:
        return queryset.none()
    return queryset.filter(proposal__tenant=actor.tenant)


# --- The candidates, in SQL ---------------------------------------------------------------

def _table(model) -> str:
    return model._meta.db_table


def _protected_model_version(version: str, entry: str) -> tuple[str, list]:
    """SQL true when the model version `version` (of model `entry`) is in use."""
    sql = (f"({version}.immutable OR {entry}.status IN (%s, %s)"
           f" OR EXISTS (SELECT 1 FROM {_table(ModelAlias)} a WHERE a.version_id = {version}.id)"
           f" OR EXISTS (SELECT 1 FROM {_table(InferenceService)} s"
           f" WHERE s.model_version_id = {version}.id AND s.state = %s))")
    return sql, [*PROTECTED_STATUSES, DeploymentState.DEPLOYED]


def _in_use(kind: CatalogKind) -> tuple[str, list]:
    """SQL true when the version `v` (of entry `e`) of `kind` is kept whatever its age."""
    excluded = (f"EXISTS (SELECT 1 FROM {_table(ExcludedVersion)} x"
                f" WHERE x.{kind.version_field}_id = v.id)")
    if kind is MODEL:
        protected, params = _protected_model_version("v", "e")
        return f"({protected} OR {excluded})", params
    protected, params = _protected_model_version("mv", "me")
    lineage = (f"EXISTS (SELECT 1 FROM {_table(LineageLink)} l"
               f" JOIN {_table(ModelVersion)} mv ON mv.id = l.model_version_id"
               f" JOIN {_table(MODEL.entry_class)} me ON me.id = mv.model_id"
               f" WHERE l.dataset_version_id = v.id AND {protected})")
    return (f"(v.immutable OR e.status IN (%s, %s) OR {lineage} OR {excluded})",
            [*PROTECTED_STATUSES, *params])


def candidates_sql(kind: CatalogKind, *, tenant_id: int, dormant_days: int, keep_newest: int,
                   now: datetime, where: str = "", where_params=()) -> tuple[str, list]:
    """SELECT id, label, created_at, last_pulled_at, newer_versions, size of the tenant's
    dormant versions of `kind`: older than `dormant_days`, not pulled for as long, not among
    the newest `keep_newest` of their model or dataset, not trashed, and not in use.
    `where` (SQL on the version `v`) narrows the versions looked at, not their ranking."""
    cutoff = now - timedelta(days=dormant_days)
    versions, entries = _table(kind.version_class), _table(kind.entry_class)
    parent, files = f"{kind.parent_field}_id", _table(ArtifactFile)
    order = ", ".join(f"v.{name.lstrip('-')} DESC" for name in Version.SEMVER_ORDER)
    in_use, in_use_params = _in_use(kind)
    narrowed = f" AND {where}" if where else ""
    sql = f"""
        SELECT c.id, c.label, c.created_at, c.last_pulled_at, c.newer_versions, c.size FROM (
            SELECT v.id, e.name || ' ' || v.version AS label, v.created_at, r.newer_versions,
                (SELECT MAX(f.last_downloaded_at) FROM {files} f
                 WHERE f.{kind.version_field}_id = v.id) AS last_pulled_at,
                (SELECT COALESCE(SUM(f.size), 0) FROM {files} f
                 WHERE f.{kind.version_field}_id = v.id) AS size
            FROM (
                SELECT v.id, ROW_NUMBER() OVER (PARTITION BY v.{parent} ORDER BY {order}) - 1
                    AS newer_versions
                FROM {versions} v JOIN {entries} e ON e.id = v.{parent}
                WHERE e.tenant_id = %s AND v.trashed_at IS NULL
            ) r
            JOIN {versions} v ON v.id = r.id
            JOIN {entries} e ON e.id = v.{parent}
            WHERE r.newer_versions >= %s AND v.created_at < %s AND NOT {in_use}{narrowed}
        ) c
        WHERE c.last_pulled_at IS NULL OR c.last_pulled_at < %s"""
    return sql, [tenant_id, keep_newest, cutoff, *in_use_params, *where_params, cutoff]


def trashed_items_in_use_sql(kind: CatalogKind, tenant_id: int | None) -> tuple[str, list]:
    """SELECT id of the trashed proposal items of `kind` whose version is in use now."""
    column = f"{kind.version_field}_id"
    in_use, params = _in_use(kind)
    tenant = " AND p.tenant_id = %s" if tenant_id is not None else ""
    sql = (f"SELECT i.id FROM {_table(ProposalItem)} i"
           f" JOIN {_table(CleanupProposal)} p ON p.id = i.proposal_id"
           f" JOIN {_table(kind.version_class)} v ON v.id = i.{column}"
           f" JOIN {_table(kind.entry_class)} e ON e.id = v.{kind.parent_field}_id"
           f" WHERE i.state = %s{tenant} AND v.trashed_at IS NOT NULL AND {in_use}")
    return sql, [ItemState.TRASHED, *([tenant_id] if tenant_id is not None else []), *params]


def kinds_of(policy: RetentionPolicy) -> list[CatalogKind]:
    return [kind for kind, applies in [(MODEL, policy.applies_to_models),
                                       (DATASET, policy.applies_to_datasets)] if applies]


# --- Why one version is not a candidate ----------------------------------------------------

def _model_version_protection(version: ModelVersion) -> str:
    aliases = sorted(ModelAlias.objects.filter(version=version).values_list("name", flat=True))
    if aliases:
        return f"holds the alias {', '.join(aliases)}"
    service = (InferenceService.objects.filter(model_version=version,
                                               state=DeploymentState.DEPLOYED)
               .order_by("name").values_list("name", flat=True).first())
    if service is not None:
        return f"served by the DEPLOYED inference service {service}"
    if version.immutable:
        return "immutable"
    if version.model.status in PROTECTED_STATUSES:
        return f"its model's status is {version.model.status}"
    return ""


def in_use_reason(version: Version) -> str:
    """Why `version` must be kept whatever its age or pulls; "" when nothing keeps it."""
    kind = kind_of(version)
    if ExcludedVersion.objects.filter(**{kind.version_field: version}).exists():
        return "excluded from cleanup"
    if kind is MODEL:
        return _model_version_protection(version)
    if version.immutable:
        return "immutable"
    if version.dataset.status in PROTECTED_STATUSES:
        return f"its dataset's status is {version.dataset.status}"
    for model_version in (ModelVersion.objects.filter(lineagelink__dataset_version=version)
                          .select_related("model").order_by("model__name", "pk")):
        if _model_version_protection(model_version):
            return (f"in the lineage of {model_version.model.name} {model_version.version}, "
                    f"which is in use")
    return ""


def skip_reason(version: Version | None, policy: RetentionPolicy, now: datetime) -> str:
    """Why a proposed version no longer qualifies at `now`; "" when it still does."""
    if version is None:
        return "the version was deleted"
    if getattr(version, "trashed_at", None) is not None:
        return "already in the trash"
    reason = in_use_reason(version)
    if reason:
        return reason
    kind = kind_of(version)
    cutoff = now - timedelta(days=policy.dormant_days)
    last_pull = ArtifactFile.objects.filter(**{kind.version_field: version}).aggregate(
        last=Max("last_downloaded_at"))["last"]
    if last_pull is not None and last_pull >= cutoff:
        return f"pulled on {last_pull:%Y-%m-%d}"
    siblings = kind.version_class.objects.filter(
        **{kind.parent_field: getattr(version, f"{kind.parent_field}_id"),
           "trashed_at__isnull": True})
    newer = sum(1 for other in siblings.exclude(pk=version.pk).only(
        "version_major", "version_minor", "version_patch", "version_prerelease")
        if _precedence(other) > _precedence(version))
    if newer < policy.keep_newest:
        return f"among the newest {policy.keep_newest} versions"
    return ""


def _precedence(version: Version) -> tuple:
    return (version.version_major, version.version_minor, version.version_patch,
            version.version_prerelease)
