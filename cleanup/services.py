"""Writes of cleanup: the retention policy, proposals, their approval, and the purge.

A proposal is computed by the database (`selectors.candidates_sql`) straight into its items;
approval and purge check every item again, since a version may have been pulled, aliased
or deployed after it was proposed, and skip it with the reason when it has.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.actor import Actor
from accounts.errors import CodedValidationError, not_found
from accounts.models import Tenant
from accounts.services import require_tenant_admin
from audit import services as audit
from cleanup import selectors
from cleanup.errors import CleanupErrorCode as Code
from cleanup.models import (
    CleanupProposal,
    ExcludedVersion,
    ItemState,
    ProposalItem,
    ProposalState,
    RetentionPolicy,
)
from config import metrics
from registry import trash
from registry.catalog import KINDS, kind_of
from registry.models import ArtifactFile, Blob

# The name audit entries give the cleanup jobs, and what version_trash is told.
SYSTEM = "cleanup"
MAX_DORMANT_DAYS = 3650
MAX_KEEP_NEWEST = 1000
POLICY_FIELDS = ["enabled", "dormant_days", "keep_newest", "applies_to_models",
                 "applies_to_datasets"]


# --- Retention policy ----------------------------------------------------------------------

def _bounded(value: int, field: str, low: int, high: int, code: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CodedValidationError({field: f"A whole number from {low} to {high}."}, code=code)
    return value


def dormant_days_clean(value: int) -> int:
    return _bounded(value, "dormantDays", 1, MAX_DORMANT_DAYS, Code.INVALID_DORMANT_DAYS)


def keep_newest_clean(value: int) -> int:
    return _bounded(value, "keepNewest", 0, MAX_KEEP_NEWEST, Code.INVALID_KEEP_NEWEST)


@transaction.atomic
def policy_update(*, actor: Actor, enabled: bool | None = None, dormant_days: int | None = None,
                  keep_newest: int | None = None, applies_to_models: bool | None = None,
                  applies_to_datasets: bool | None = None) -> RetentionPolicy:
    """Change the actor's tenant's policy (tenant admins); the fields left None stay."""
    require_tenant_admin(actor)
    policy, _ = RetentionPolicy.objects.select_for_update().get_or_create(tenant=actor.tenant)
    before = audit.snapshot(policy, POLICY_FIELDS)
    if dormant_days is not None:
        policy.dormant_days = dormant_days_clean(dormant_days)
    if keep_newest is not None:
        policy.keep_newest = keep_newest_clean(keep_newest)
    for name, value in [("enabled", enabled), ("applies_to_models", applies_to_models),
                        ("applies_to_datasets", applies_to_datasets)]:
        if value is not None:
            setattr(policy, name, bool(value))
    policy.updated_by = actor.user
    policy.save()
    audit.record(actor=actor, action="update", obj=policy, changes=audit.diff(
        before, audit.snapshot(policy, POLICY_FIELDS)))
    return policy


# --- Proposals -----------------------------------------------------------------------------

_ITEMS = ProposalItem._meta.db_table
_PROPOSALS = CleanupProposal._meta.db_table


def _items_insert(proposal: CleanupProposal, policy: RetentionPolicy, now: datetime) -> None:
    """INSERT ... SELECT of the candidates of each kind the policy applies to, leaving out
    versions an open proposal of the tenant already proposes."""
    for kind in selectors.kinds_of(policy):
        column = f"{kind.version_field}_id"
        already_proposed = (
            f"NOT EXISTS (SELECT 1 FROM {_ITEMS} pi JOIN {_PROPOSALS} pp ON pp.id = pi.proposal_id"
            f" WHERE pi.{column} = v.id AND pi.state = %s AND pp.tenant_id = %s)")
        select, params = selectors.candidates_sql(
            kind, tenant_id=proposal.tenant_id, dormant_days=policy.dormant_days,
            keep_newest=policy.keep_newest, now=now, where=already_proposed,
            where_params=[ItemState.PROPOSED, proposal.tenant_id])
        other = "dataset_version_id" if kind.version_field == "model_version" else (
            "model_version_id")
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {_ITEMS} (proposal_id, {column}, {other}, label,"
                " version_created_at, last_pulled_at, newer_versions, size, reclaimable_bytes,"
                " state, skip_reason, reclaimed_bytes, purged_files, updated_at)"
                " SELECT %s, c.id, NULL, c.label, c.created_at, c.last_pulled_at,"
                f" c.newer_versions, c.size, 0, %s, '', 0, 0, %s FROM ({select}) c"
                " ORDER BY c.id",
                [proposal.pk, ItemState.PROPOSED, now, *params])


def _reclaimable_update(proposal: CleanupProposal) -> None:
    """Each item's reclaimable bytes: the blobs that only the proposal's files refer to,
    each counted once, on the first item (lowest id) holding it; a blob a kept file shares
    reclaims nothing."""
    files, blobs = ArtifactFile._meta.db_table, Blob._meta.db_table
    proposal_files = " UNION ALL ".join(
        f"SELECT f.blob_id, i.id AS item_id FROM {files} f JOIN {_ITEMS} i"
        f" ON f.{kind.version_field}_id = i.{kind.version_field}_id WHERE i.proposal_id = %s"
        for kind in KINDS)
    with connection.cursor() as cursor:
        cursor.execute(f"""
            WITH proposal_files AS ({proposal_files}),
            proposed_blobs AS (
                SELECT blob_id, MIN(item_id) AS item_id, COUNT(*) AS files
                FROM proposal_files GROUP BY blob_id),
            reclaimable AS (
                SELECT pb.item_id, SUM(b.size) AS bytes FROM proposed_blobs pb
                JOIN {blobs} b ON b.id = pb.blob_id
                WHERE pb.files = (SELECT COUNT(*) FROM {files} f WHERE f.blob_id = pb.blob_id)
                GROUP BY pb.item_id)
            UPDATE {_ITEMS} SET reclaimable_bytes = reclaimable.bytes FROM reclaimable
            WHERE {_ITEMS}.id = reclaimable.item_id""",
                       [proposal.pk] * len(KINDS))


def _proposal_write(tenant: Tenant, policy: RetentionPolicy, now: datetime) -> CleanupProposal:
    proposal = CleanupProposal.objects.create(tenant=tenant, created_at=now,
                                              dormant_days=policy.dormant_days,
                                              keep_newest=policy.keep_newest)
    _items_insert(proposal, policy, now)
    _reclaimable_update(proposal)
    totals = proposal.items.aggregate(count=Count("pk"), size=Sum("size", default=0),
                                      reclaimable=Sum("reclaimable_bytes", default=0))
    proposal.item_count = totals["count"]
    proposal.size = totals["size"]
    proposal.reclaimable_bytes = totals["reclaimable"]
    proposal.save(update_fields=["item_count", "size", "reclaimable_bytes"])
    return proposal


def proposal_create(*, tenant: Tenant, now: datetime | None = None) -> CleanupProposal | None:
    """Write a proposal of the tenant's dormant versions under its enabled policy; None
    when the policy is disabled or nothing qualifies (no empty proposal is kept)."""
    policy = selectors.policy_of(tenant)
    if not policy.enabled:
        return None
    with transaction.atomic():
        proposal = _proposal_write(tenant, policy, now or timezone.now())
        if not proposal.item_count:
            transaction.set_rollback(True)
            return None
        audit.record(system=SYSTEM, action="propose", obj=proposal, tenant=tenant,
                     changes={"items": [None, proposal.item_count],
                              "reclaimable_bytes": [None, proposal.reclaimable_bytes]})
    metrics.CLEANUP_ITEMS.labels("proposed").inc(proposal.item_count)
    return proposal


@contextmanager
def proposal_dry_run(*, tenant: Tenant, policy: RetentionPolicy | None = None,
                     now: datetime | None = None) -> Iterator[CleanupProposal]:
    """The proposal `proposal_create` would write, computed the same way inside a
    transaction that is rolled back when the block ends: nothing is kept."""
    policy = policy or selectors.policy_of(tenant)
    with transaction.atomic():
        try:
            yield _proposal_write(tenant, policy, now or timezone.now())
        finally:
            transaction.set_rollback(True)


def proposals_propose(*, tenant: Tenant | None = None,
                      now: datetime | None = None) -> list[CleanupProposal]:
    """A proposal for every tenant whose policy is enabled (or for `tenant`)."""
    written = (proposal_create(tenant=policy.tenant, now=now)
               for policy in selectors.enabled_policies(tenant))
    return [proposal for proposal in written if proposal is not None]


# --- Approval ------------------------------------------------------------------------------

def proposal_for_admin(*, actor: Actor, proposal_id: int) -> CleanupProposal:
    """The actor's tenant's proposal, locked, else NOT_FOUND (another tenant's included)."""
    require_tenant_admin(actor)
    proposal = (CleanupProposal.objects.select_for_update()
                .filter(tenant=actor.tenant, pk=proposal_id).first())
    if proposal is None:
        raise not_found()
    return proposal


def _policy_of_proposal(proposal: CleanupProposal) -> RetentionPolicy:
    """The rules the proposal was computed with, for checking its items again."""
    return RetentionPolicy(tenant=proposal.tenant, dormant_days=proposal.dormant_days,
                           keep_newest=proposal.keep_newest)


def _still_dormant(proposal: CleanupProposal, items: list[ProposalItem],
                   now: datetime) -> set[tuple[str, int]]:
    """(kind name, version id) of the items' versions that are still candidates at `now`."""
    policy = _policy_of_proposal(proposal)
    found = set()
    for kind in KINDS:
        ids = [getattr(item, f"{kind.version_field}_id") for item in items]
        ids = [pk for pk in ids if pk is not None]
        if not ids:
            continue
        select, params = selectors.candidates_sql(
            kind, tenant_id=proposal.tenant_id, dormant_days=policy.dormant_days,
            keep_newest=policy.keep_newest, now=now,
            where=f"v.id IN ({', '.join(['%s'] * len(ids))})", where_params=ids)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT c.id FROM ({select}) c", params)
            found |= {(kind.name, row[0]) for row in cursor.fetchall()}
    return found


def _item_skip(item: ProposalItem, reason: str) -> None:
    item.state = ItemState.SKIPPED
    item.skip_reason = reason[:300]
    item.save(update_fields=["state", "skip_reason", "updated_at"])
    audit.record(system=SYSTEM, action="cleanup_skip", obj=item, tenant=item.proposal.tenant,
                 object_name=item.label, changes={"reason": [None, reason]})
    metrics.CLEANUP_ITEMS.labels("skipped").inc()


def _proposal_state_refresh(proposal: CleanupProposal) -> None:
    left = proposal.items.filter(state=ItemState.PROPOSED).exists()
    proposal.state = ProposalState.PARTIALLY_APPROVED if left else ProposalState.APPROVED


def _items_of(proposal: CleanupProposal, item_ids: list[int] | None) -> list[ProposalItem]:
    """The items to act on, locked: all proposed ones, or exactly `item_ids`, each of
    this proposal (else NOT_FOUND) and proposed (else ITEM_NOT_PROPOSED)."""
    items = proposal.items.select_for_update(of=("self",)).select_related("model_version__model",
                                                             "dataset_version__dataset")
    if item_ids is None:
        return list(items.filter(state=ItemState.PROPOSED).order_by("pk"))
    chosen = list(items.filter(pk__in=set(item_ids)).order_by("pk"))
    if len(chosen) != len(set(item_ids)):
        raise not_found("itemIds")
    if any(item.state != ItemState.PROPOSED for item in chosen):
        raise CodedValidationError({"itemIds": Code.ITEM_NOT_PROPOSED.label},
                                   code=Code.ITEM_NOT_PROPOSED)
    return chosen


@transaction.atomic
def proposal_approve(*, actor: Actor, proposal_id: int, item_ids: list[int] | None = None,
                     now: datetime | None = None) -> CleanupProposal:
    """Approve the proposal's proposed items (or `item_ids` of them): each still dormant
    goes to the trash, each that became protected since is skipped with the reason."""
    proposal = proposal_for_admin(actor=actor, proposal_id=proposal_id)
    if proposal.state == ProposalState.PURGED:
        raise CodedValidationError({"id": Code.PROPOSAL_CLOSED.label},
                                   code=Code.PROPOSAL_CLOSED)
    items = _items_of(proposal, item_ids)
    now = now or timezone.now()
    dormant = _still_dormant(proposal, items, now)
    policy = _policy_of_proposal(proposal)
    trashed = 0
    for item in items:
        version = item.version
        if version is None or (kind_of(version).name, version.pk) not in dormant:
            _item_skip(item, selectors.skip_reason(version, policy, now)
                       or "no longer dormant")
            continue
        try:
            trash.version_trash(actor=actor, version=version, system=SYSTEM,
                                reason=f"Cleanup proposal {proposal.pk}: {item.reason}"[:200])
        except CodedValidationError as refusal:  # a race the checks above did not see
            _item_skip(item, "; ".join(refusal.messages))
            continue
        item.state = ItemState.TRASHED
        item.save(update_fields=["state", "updated_at"])
        trashed += 1
    metrics.CLEANUP_ITEMS.labels("trashed").inc(trashed)
    _proposal_state_refresh(proposal)
    proposal.approved_by, proposal.approved_at = actor.user, now
    proposal.save(update_fields=["state", "approved_by", "approved_at"])
    audit.record(actor=actor, action="approve", obj=proposal, changes={
        "items": [None, [item.pk for item in items]], "trashed": [None, trashed]})
    return proposal


@transaction.atomic
def item_exclude(*, actor: Actor, item_id: int) -> ProposalItem:
    """Keep an item's version out of every later proposal; a trashed one is restored."""
    require_tenant_admin(actor)
    item = (ProposalItem.objects.select_for_update(of=("self",)).select_related("proposal")
            .filter(proposal__tenant=actor.tenant, pk=item_id).first())
    if item is None:
        raise not_found()
    version = item.version
    if version is None or item.state not in (ItemState.PROPOSED, ItemState.TRASHED):
        raise CodedValidationError({"id": Code.ITEM_NOT_PROPOSED.label},
                                   code=Code.ITEM_NOT_PROPOSED)
    if item.state == ItemState.TRASHED:
        trash.version_restore(actor=actor, version=version)
    ExcludedVersion.objects.get_or_create(
        tenant=actor.tenant, **{kind_of(version).version_field: version},
        defaults={"excluded_by": actor.user})
    item.state = ItemState.EXCLUDED
    item.save(update_fields=["state", "updated_at"])
    if item.proposal.state == ProposalState.PARTIALLY_APPROVED:
        _proposal_state_refresh(item.proposal)
        item.proposal.save(update_fields=["state"])
    audit.record(actor=actor, action="cleanup_exclude", obj=version)
    metrics.CLEANUP_ITEMS.labels("excluded").inc()
    return item


# --- Purge ---------------------------------------------------------------------------------

def _due_items(now: datetime, tenant: Tenant | None):
    """Trashed items past their window, or whose version was restored or is gone."""
    due = ProposalItem.objects.filter(state=ItemState.TRASHED).filter(
        Q(model_version__purge_after__lte=now) | Q(dataset_version__purge_after__lte=now)
        | Q(model_version__isnull=False, model_version__trashed_at__isnull=True)
        | Q(dataset_version__isnull=False, dataset_version__trashed_at__isnull=True)
        | Q(model_version__isnull=True, dataset_version__isnull=True))
    return due if tenant is None else due.filter(proposal__tenant=tenant)


def _locked_trashed_item(item_id: int) -> ProposalItem | None:
    """The item, locked, while it is trashed; None when another purge holds it, or it has
    moved on (a rerun)."""
    return (ProposalItem.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=item_id, state=ItemState.TRASHED)
            .select_related("proposal__tenant", "proposal__approved_by").first())


def _item_settle(item: ProposalItem) -> bool:
    """Record an item whose version left the trash outside cleanup (restored, or purged or
    deleted); whether it did."""
    version = item.version
    if version is not None and version.trashed_at is not None:
        return False
    item.state = ItemState.PURGED if version is None else ItemState.RESTORED
    item.save(update_fields=["state", "updated_at"])
    if version is not None:
        metrics.CLEANUP_ITEMS.labels("restored").inc()
    return True


def _item_take_back(item_id: int) -> None:
    """A trashed item whose version is in use now (its model went to production, say) is
    restored and skipped, with the reason."""
    with transaction.atomic():
        item = _locked_trashed_item(item_id)
        if item is None or _item_settle(item):
            return
        reason = selectors.in_use_reason(item.version)
        if not reason:
            return
        try:
            with transaction.atomic():
                trash.version_restore(actor=None, version=item.version, system=SYSTEM)
        except CodedValidationError as refusal:
            # Its version string was taken meanwhile: left in the trash for an admin to
            # settle; the item says why.
            refused = "; ".join(getattr(refusal, "messages", [str(refusal)]))
            item.skip_reason = f"{reason}; not restored: {refused}"[:300]
            item.save(update_fields=["skip_reason", "updated_at"])
            return
        _item_skip(item, reason)


def _item_purge(item_id: int) -> trash.PurgeResult:
    """Purge one trashed item's version. One transaction, the item locked (another purge
    skips it): an interrupted purge leaves the item trashed with its files and blobs, and
    the next run does it again."""
    with transaction.atomic():
        item = _locked_trashed_item(item_id)
        if item is None or _item_settle(item):
            return trash.PurgeResult()
        reason = selectors.in_use_reason(item.version)
        if reason:  # in use, and could not be taken back (see _item_take_back): not by us
            _item_skip(item, item.skip_reason or reason)
            return trash.PurgeResult()
        result = trash.version_purge(item.version, system=SYSTEM, skip_locked=True)
        item.state = ItemState.PURGED
        item.reclaimed_bytes, item.purged_files = result.bytes_reclaimed, result.files
        item.save(update_fields=["state", "reclaimed_bytes", "purged_files", "updated_at"])
    metrics.CLEANUP_ITEMS.labels("purged").inc()
    metrics.CLEANUP_RECLAIMED_BYTES.labels(item.proposal.tenant.slug).inc(result.bytes_reclaimed)
    return result


def _proposal_totals_refresh(proposal_id: int, now: datetime) -> None:
    """Totals added up from the items (never incremented: a rerun cannot count twice)."""
    with transaction.atomic():
        proposal = CleanupProposal.objects.select_for_update().get(pk=proposal_id)
        totals = proposal.items.filter(state=ItemState.PURGED).aggregate(
            versions=Count("pk"), files=Sum("purged_files", default=0),
            reclaimed=Sum("reclaimed_bytes", default=0))
        proposal.purged_versions = totals["versions"]
        proposal.purged_files = totals["files"]
        proposal.reclaimed_bytes = totals["reclaimed"]
        fields = ["purged_versions", "purged_files", "reclaimed_bytes"]
        if not proposal.items.filter(state__in=[ItemState.PROPOSED, ItemState.TRASHED]).exists():
            proposal.state, proposal.purged_at = ProposalState.PURGED, now
            fields += ["state", "purged_at"]
        proposal.save(update_fields=fields)


def proposals_purge(*, now: datetime | None = None,
                    tenant: Tenant | None = None) -> trash.PurgeResult:
    """Purge the proposals' items whose restore window has passed, then the rest of the
    trash that is due; what was removed in all."""
    now = now or timezone.now()
    # First what is in use again, while it is still restorable (every run, not only when due).
    for kind in KINDS:
        select, params = selectors.trashed_items_in_use_sql(kind, tenant and tenant.pk)
        with connection.cursor() as cursor:
            cursor.execute(select, params)
            in_use = [row[0] for row in cursor.fetchall()]
        for item_id in in_use:
            _item_take_back(item_id)
    due = list(_due_items(now, tenant).order_by("pk").values_list("pk", "proposal_id"))
    total = trash.PurgeResult()
    for item_id, _ in due:
        total += _item_purge(item_id)
    for proposal_id in sorted({proposal_id for _, proposal_id in due}):
        _proposal_totals_refresh(proposal_id, now)
    return total + trash.trash_purge_due(now=now, tenant=tenant, system=SYSTEM)
