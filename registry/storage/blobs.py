"""The blob lifecycle on database rows: create, release, collect garbage, verify, orphans.

A blob's row and its object are created together (`blob_for`) and deleted together, each
under a per-key lock, so a concurrent upload of the same bytes and a garbage collection
cannot undo each other. A blob's refcount is the number of files pointing at it.
"""

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import BinaryIO

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from accounts.errors import CodedValidationError
from accounts.models import Tenant
from registry.models import ACTIVE_UPLOAD_STATES, Blob, UploadSession
from registry.storage.backends import Backend, backend
from registry.storage.keys import blob_key, staging_root
from registry.storage.staging import HashingReader, Staged

# Objects nothing accounts for are left alone this long: an upload may still be writing them.
ORPHAN_MIN_AGE = timedelta(hours=6)


def lock_key(key: str) -> None:
    """Serialise, until the transaction ends, everyone who writes or deletes `key`.

    SQLite needs nothing more: its write transactions run one at a time (IMMEDIATE).
    """
    if connection.vendor == "postgresql":
        lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])


def stage_stream(*, tenant: Tenant, stream: BinaryIO) -> Staged:
    """Receive `stream` (hashed, size-limited) without making it a blob yet."""
    return backend().stage_stream(tenant, stream)


@contextmanager
def blob_for(*, tenant: Tenant, staged: Staged) -> Iterator[Blob]:
    """Inside one transaction, the tenant's blob holding the staged bytes.

    The bytes are stored under the blob key only when the tenant has no blob with them yet
    (deduplication), or to repair one flagged missing or corrupt; if the block raises, a new
    object is removed before the transaction rolls back. Staging is discarded in every case.
    """
    key = blob_key(tenant, staged.sha256)
    try:
        with transaction.atomic():
            lock_key(key)
            blob = Blob.objects.filter(tenant=tenant, sha256=staged.sha256).first()
            created = blob is None
            if created:
                staged.put(key)
                blob = Blob.objects.create(tenant=tenant, sha256=staged.sha256,
                                           size=staged.size, storage_key=key)
            elif blob.integrity_error:
                staged.put(blob.storage_key)
                Blob.objects.filter(pk=blob.pk).update(integrity_error="",
                                                       last_verified_at=timezone.now())
            try:
                yield blob
            except BaseException:
                if created:
                    backend().delete(key)
                raise
    finally:
        staged.discard()


def blob_store_stream(*, tenant: Tenant, stream: BinaryIO) -> Blob:
    """Store `stream` as a blob of `tenant` (no file refers to it yet)."""
    with blob_for(tenant=tenant, staged=stage_stream(tenant=tenant, stream=stream)) as blob:
        return blob


def blob_open(blob: Blob) -> BinaryIO:
    """The blob's bytes as a seekable stream; FileNotFoundError when the object is missing."""
    return backend().open(blob.storage_key)


def _unreferenced(queryset):
    """Blobs nothing refers to: no file, nor any other app's row (a foreign key to Blob)."""
    # The reverse side of every foreign key to Blob, through the documented _meta API.
    relations = (f for f in Blob._meta.get_fields() if f.auto_created and not f.concrete)
    for relation in relations:
        referrers = relation.related_model.objects.filter(**{relation.field.name: OuterRef("pk")})
        queryset = queryset.filter(~Exists(referrers))
    return queryset


def blobs_release(blob_ids: Iterable[int]) -> int:
    """Delete the blobs no file refers to any more: rows now, objects after the commit; the
    bytes they held (a blob another file still shares reclaims nothing)."""
    unreferenced = _unreferenced(Blob.objects.filter(pk__in=set(blob_ids)))
    released = list(unreferenced.values_list("storage_key", "size"))
    if not released:
        return 0
    unreferenced.delete()
    keys = [key for key, _ in released]
    transaction.on_commit(lambda: _objects_delete_unclaimed(keys))
    return sum(size for _, size in released)


def _objects_delete_unclaimed(keys: list[str]) -> None:
    store = backend()
    for key in keys:
        with transaction.atomic():
            lock_key(key)
            # An upload of the same bytes may have made the key a blob again meanwhile.
            if not Blob.objects.filter(storage_key=key).exists():
                store.delete(key)


def blobs_collect_garbage() -> int:
    """Delete every blob no file refers to, row and object; how many."""
    store = backend()
    deleted = 0
    for pk, key in _unreferenced(Blob.objects.all()).values_list("pk", "storage_key"):
        with transaction.atomic():
            lock_key(key)  # before the row, in the same order as blob_for
            if _unreferenced(Blob.objects.select_for_update().filter(pk=pk)).delete()[0]:
                store.delete(key)
                deleted += 1
    return deleted


@dataclass
class VerifyReport:
    verified: int = 0
    missing: list[Blob] = field(default_factory=list)
    mismatched: list[Blob] = field(default_factory=list)


def blob_verify(blob: Blob, store: Backend | None = None) -> str:
    """Re-hash the blob's object and record the outcome; the problem found, or ""."""
    store = store or backend()
    try:
        with store.open(blob.storage_key) as stream:
            reader = HashingReader(stream, limit=blob.size).drain()
    except FileNotFoundError:
        problem = "missing from storage"
    except CodedValidationError:  # more bytes than recorded
        problem = f"content mismatch: more than {blob.size} bytes stored"
    else:
        problem = ("" if (reader.size, reader.sha256) == (blob.size, blob.sha256) else
                   f"content mismatch: {reader.size} bytes with sha256 {reader.sha256} stored")
    blob.integrity_error = problem
    blob.last_verified_at = timezone.now()
    Blob.objects.filter(pk=blob.pk).update(integrity_error=problem,
                                           last_verified_at=blob.last_verified_at)
    return problem


def blobs_verify(*, limit: int | None = None, tenant: Tenant | None = None) -> VerifyReport:
    """Re-hash blobs, least recently verified first (all of them without `limit`)."""
    queryset = Blob.objects.order_by(F("last_verified_at").asc(nulls_first=True), "pk")
    if tenant is not None:
        queryset = queryset.filter(tenant=tenant)
    if limit is not None:
        queryset = queryset[:limit]
    store = backend()
    report = VerifyReport()
    for blob in queryset.iterator(chunk_size=500):
        problem = blob_verify(blob, store)
        report.verified += 1
        if problem == "missing from storage":
            report.missing.append(blob)
        elif problem:
            report.mismatched.append(blob)
    return report


def orphans(*, min_age: timedelta = ORPHAN_MIN_AGE, staging_only: bool = False,
            tenant: Tenant | None = None) -> Iterator[str]:
    """Stored keys under tenants/ that no blob and no active upload accounts for."""
    cutoff = timezone.now() - min_age
    batch: list[str] = []
    prefix = f"tenants/{tenant.pk}/" if tenant else "tenants/"
    for key, modified in backend().iter_objects(prefix):
        if modified < cutoff and (staging_root(key) or not staging_only):
            batch.append(key)
        if len(batch) == 1000:
            yield from _unaccounted(batch)
            batch = []
    yield from _unaccounted(batch)


def _unaccounted(keys: list[str]) -> Iterator[str]:
    blob_keys = set(Blob.objects.filter(storage_key__in=keys)
                    .values_list("storage_key", flat=True))
    active = set(UploadSession.objects.filter(
        staging_key__in={staging_root(key) for key in keys} - {None},
        state__in=ACTIVE_UPLOAD_STATES,
    ).values_list("staging_key", flat=True))
    for key in keys:
        if key not in blob_keys and staging_root(key) not in active:
            yield key


def orphans_delete(*, min_age: timedelta = ORPHAN_MIN_AGE, staging_only: bool = False,
                   tenant: Tenant | None = None) -> list[str]:
    store = backend()
    deleted = []
    for key in orphans(min_age=min_age, staging_only=staging_only, tenant=tenant):
        with transaction.atomic():
            lock_key(key)
            if not Blob.objects.filter(storage_key=key).exists():
                store.delete(key)
                deleted.append(key)
    return deleted
