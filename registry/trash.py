"""The trash: versions and files removed but restorable by the tenant's admins until their
`purge_after`, then purged (rows, then the blobs no other file shares).

Trashing keeps every row (files, usage, lineage, audit) and only sets the `trashed_*`
columns; the selectors hide such rows from every read path. A version's files are trashed
with it, at the same instant, so restoring the version restores exactly those (a file
trashed on its own before stays in the trash).

Purging is resumable and safe to run twice at once: each step locks its row and rereads
it, file rows go in batches of their own transactions before their version's row, and a
blob is released only once no row refers to it, so a crash between steps leaves no file
row pointing at a missing blob, and a rerun finishes the job.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from accounts.actor import Actor
from accounts.errors import CodedPermissionDenied, CodedValidationError, not_found, require_scope
from accounts.models import Tenant
from audit import services as audit
from registry import selectors, services
from registry.catalog import KINDS, kind_of
from registry.errors import RegistryErrorCode as Code
from registry.models import ArtifactFile, Version
from registry.storage.blobs import blobs_release
from registry.validators import validate_text
from webhooks import events as webhook_events

# File rows deleted per transaction while purging a version: short locks, bounded rework.
PURGE_BATCH_SIZE = 500
# What the audit trail names as the actor of a purge nobody asked for.
PURGE_SYSTEM = "trash"


@dataclass(frozen=True)
class PurgeResult:
    """What a purge removed: version rows, file rows, and the bytes of the blobs it deleted
    (a blob still shared with a kept file reclaims nothing)."""

    versions: int = 0
    files: int = 0
    bytes_reclaimed: int = 0

    def __add__(self, other: "PurgeResult") -> "PurgeResult":
        return PurgeResult(versions=self.versions + other.versions,
                           files=self.files + other.files,
                           bytes_reclaimed=self.bytes_reclaimed + other.bytes_reclaimed)


def _trash_columns(actor: Actor | None, tenant: Tenant, reason: str) -> dict:
    validate_text(reason, "reason", 200)
    now = timezone.now()
    return {"trashed_at": now, "trashed_by": actor.user if actor else None,
            "trash_reason": reason,
            "purge_after": now + timedelta(days=tenant.trash_restore_days)}


UNTRASHED = {"trashed_at": None, "trashed_by": None, "trash_reason": "", "purge_after": None}


def _set(obj: Model, columns: dict) -> None:
    for name, value in columns.items():
        setattr(obj, name, value)
    obj.save(update_fields=list(columns))


# --- Trash ---------------------------------------------------------------------------------

@transaction.atomic
def version_trash(*, actor: Actor | None, version: Version, reason: str,
                  system: str | None = None, field: str = "versionId") -> Version:
    """Move a version and its files to the trash, restorable until `purge_after` (now plus
    the tenant's `trash_restore_days`). Refused as `version_delete` refuses (manage; not
    aliased, deployed, immutable or trashed already); a `system` job (cleanup) is not asked
    for rights, and is named in the audit trail."""
    parent = services.version_removal_check(actor=actor, version=version, field=field,
                                            system=system)
    columns = _trash_columns(actor, parent.tenant, reason)
    _set(version, columns)
    selectors.untrashed(version.files.all()).update(**columns)
    services.latest_version_refresh(parent)
    # To subscribers the version is gone; a restore announces it again.
    webhook_events.version_deleted(version)
    audit.record(actor=actor, system=system or "", action="trash", obj=version,
                 changes={"purge_after": [None, columns["purge_after"].isoformat()],
                          "reason": [None, reason]})
    return version


@transaction.atomic
def file_trash(*, actor: Actor | None, artifact: ArtifactFile, reason: str,
               system: str | None = None) -> ArtifactFile:
    """Move one file to the trash (rights and refusals of `file_delete`)."""
    services.file_removal_check(actor=actor, artifact=artifact, system=system)
    columns = _trash_columns(actor, artifact.tenant, reason)
    _set(artifact, columns)
    audit.record(actor=actor, system=system or "", action="trash", obj=artifact,
                 object_name=artifact.path,
                 changes={"purge_after": [None, columns["purge_after"].isoformat()],
                          "reason": [None, reason]})
    return artifact


# --- Restore -------------------------------------------------------------------------------

def _require_restorer(actor: Actor, tenant_id: int) -> None:
    require_scope(actor)
    if actor.tenant is None or actor.tenant.pk != tenant_id:
        raise not_found()
    if not actor.is_tenant_admin:
        raise CodedPermissionDenied("Only tenant admins restore from the trash.")


def _refuse_unless_restorable(obj: Version | ArtifactFile, *, system: str | None) -> None:
    if obj.trashed_at is None:
        raise CodedValidationError({"id": "Not in the trash."}, code=Code.NOT_TRASHED)
    # The window bounds what people may take back; a system job (cleanup taking back a
    # version that is in use again) restores whatever has not been purged yet.
    if system is None and obj.purge_after <= timezone.now():
        raise CodedValidationError(
            {"id": f"The restore window ended at {obj.purge_after.isoformat()}."},
            code=Code.RESTORE_WINDOW_PASSED)


@transaction.atomic
def version_restore(*, actor: Actor | None, version: Version,
                    system: str | None = None) -> Version:
    """Take a version and the files trashed with it out of the trash (tenant admins, before
    `purge_after`; a `system` job is not asked for rights or the window); it may become its
    parent's newest version again."""
    kind = kind_of(version)
    parent = (kind.entry_class.objects.select_for_update()
              .filter(pk=getattr(version, f"{kind.parent_field}_id")).first())
    if parent is None:
        raise not_found()
    if system is None:
        _require_restorer(actor, parent.tenant_id)
    version = type(version).objects.select_for_update().filter(pk=version.pk).first()
    if version is None:
        raise not_found()  # purged meanwhile
    _refuse_unless_restorable(version, system=system)
    if selectors.untrashed(type(version).objects.filter(
            **{kind.parent_field: parent, "version": version.version})).exists():
        raise services.duplicate_version(version.version, field="id")
    trashed_at = version.trashed_at
    _set(version, UNTRASHED)
    version.files.filter(trashed_at=trashed_at).update(**UNTRASHED)
    services.latest_version_refresh(parent)
    webhook_events.version_created(version)
    audit.record(actor=actor, system=system or "", action="restore", obj=version)
    return version


@transaction.atomic
def file_restore(*, actor: Actor, artifact: ArtifactFile) -> ArtifactFile:
    """Take a file trashed on its own out of the trash (tenant admins, before
    `purge_after`); a file of a trashed version comes back with its version only."""
    _require_restorer(actor, artifact.tenant_id)
    # Refused with VERSION_TRASHED while its version is trashed.
    services.version_parent_for(actor=actor, version=artifact.version, field="id")
    artifact = ArtifactFile.objects.select_for_update().filter(pk=artifact.pk).first()
    if artifact is None:
        raise not_found()
    _refuse_unless_restorable(artifact, system=None)
    if selectors.untrashed(ArtifactFile.objects.filter(
            **{kind_of(artifact.version).version_field: artifact.version,
               "path": artifact.path})).exists():
        raise services.duplicate_path(artifact.path, field="id")
    _set(artifact, UNTRASHED)
    audit.record(actor=actor, action="restore", obj=artifact, object_name=artifact.path)
    return artifact


# --- Purge ---------------------------------------------------------------------------------

def _not_trashed() -> CodedValidationError:
    return CodedValidationError({"id": "Only a trashed version or file is purged."},
                                code=Code.NOT_TRASHED)


def _files_purge_batch(version_class: type[Version], version_pk: int, *, skip_locked: bool,
                       system: str) -> tuple[PurgeResult, bool]:
    """One transaction: up to PURGE_BATCH_SIZE files of the trashed version, and the
    version itself once it has none left. (result, whether the version is done)."""
    with transaction.atomic():
        version = (version_class.objects.select_for_update(skip_locked=skip_locked)
                   .filter(pk=version_pk).first())
        if version is None:
            # Gone, or (skip_locked) another purge holds it: that one counts it.
            return PurgeResult(), True
        if version.trashed_at is None:
            raise _not_trashed()
        files = list(version.files.select_for_update().order_by("pk")
                     .values_list("pk", "blob_id")[:PURGE_BATCH_SIZE])
        if files:
            ArtifactFile.objects.filter(pk__in=[pk for pk, _ in files]).delete()
            reclaimed = blobs_release(blob_id for _, blob_id in files)
            return PurgeResult(files=len(files), bytes_reclaimed=reclaimed), False
        audit.record(system=system, action="purge", obj=version)
        version.delete()
        return PurgeResult(versions=1), True


def version_purge(version: Version, *, system: str = PURGE_SYSTEM,
                  skip_locked: bool = False) -> PurgeResult:
    """Delete a trashed version for good: its files in batches (each batch and its blobs in
    one transaction), then the version. Purging one already purged returns zeros; one not
    trashed (or restored meanwhile) is refused with NOT_TRASHED. With `skip_locked`, a
    version another purge is working on is left to it (zeros)."""
    total = PurgeResult()
    done = False
    while not done:
        result, done = _files_purge_batch(type(version), version.pk, skip_locked=skip_locked,
                                          system=system)
        total += result
    return total


@transaction.atomic
def file_purge(artifact: ArtifactFile, *, system: str = PURGE_SYSTEM,
               skip_locked: bool = False) -> PurgeResult:
    """Delete a trashed file for good, and its blob unless another file shares it."""
    artifact = (ArtifactFile.objects.select_for_update(skip_locked=skip_locked)
                .filter(pk=artifact.pk).first())
    if artifact is None:
        return PurgeResult()
    if artifact.trashed_at is None:
        raise _not_trashed()
    audit.record(system=system, action="purge", obj=artifact, object_name=artifact.path)
    artifact.delete()
    return PurgeResult(files=1, bytes_reclaimed=blobs_release([artifact.blob_id]))


def trash_purge_due(*, now: datetime | None = None, tenant: Tenant | None = None,
                    system: str = PURGE_SYSTEM) -> PurgeResult:
    """Purge every trashed version and file whose `purge_after` has passed (of one tenant,
    or all): versions first (with their files), then files trashed on their own. Rows
    another purge holds are skipped; one restored meanwhile is left alone."""
    now = now or timezone.now()
    total = PurgeResult()
    for kind in KINDS:
        due = kind.version_class.objects.filter(trashed_at__isnull=False, purge_after__lte=now)
        if tenant is not None:
            due = due.filter(**{f"{kind.parent_field}__tenant": tenant})
        for pk in list(due.order_by("pk").values_list("pk", flat=True)):
            total += _purge_skipping_restored(version_purge, kind.version_class(pk=pk), system)
    # Files trashed on their own: those of a trashed version go with it (or, when another
    # purge holds the version, with that purge).
    due_files = ArtifactFile.objects.filter(
        trashed_at__isnull=False, purge_after__lte=now,
        model_version__trashed_at__isnull=True, dataset_version__trashed_at__isnull=True)
    if tenant is not None:
        due_files = due_files.filter(tenant=tenant)
    for pk in list(due_files.order_by("pk").values_list("pk", flat=True)):
        total += _purge_skipping_restored(file_purge, ArtifactFile(pk=pk), system)
    return total


def _purge_skipping_restored(purge, obj, system: str) -> PurgeResult:
    try:
        return purge(obj, system=system, skip_locked=True)
    except CodedValidationError as error:
        if error.error_dict["id"][0].code != Code.NOT_TRASHED:
            raise
        return PurgeResult()
