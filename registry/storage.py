"""Blobs in object storage: content-addressed keys, streamed writes, reference counting."""

import hashlib
import mimetypes
import tempfile
from collections.abc import Iterable
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count, Sum

from accounts.models import Tenant
from registry.errors import CodedValidationError
from registry.errors import RegistryErrorCode as Code
from registry.models import ArtifactFile, Blob

CHUNK_SIZE = 1024 * 1024


def blob_key(tenant: Tenant, sha256: str) -> str:
    """The storage key of a blob: derived from its content by the server, never by a client."""
    return f"tenants/{tenant.pk}/blobs/{sha256[:2]}/{sha256}"


def guess_content_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def quota_check(*, tenant: Tenant, incoming_bytes: int, incoming_files: int = 1) -> None:
    usage = ArtifactFile.objects.filter(tenant=tenant).aggregate(
        files=Count("pk"), bytes=Sum("size")
    )
    if incoming_bytes > settings.REGISTRY_MAX_FILE_SIZE:
        raise CodedValidationError(
            {"file": f"{incoming_bytes} bytes exceeds the limit of "
                     f"{settings.REGISTRY_MAX_FILE_SIZE} bytes."},
            code=Code.FILE_TOO_LARGE,
        )
    if ((usage["bytes"] or 0) + incoming_bytes > tenant.quota_bytes
            or usage["files"] + incoming_files > tenant.quota_files):
        raise CodedValidationError(
            {"file": f"The tenant's quota of {tenant.quota_bytes} bytes and "
                     f"{tenant.quota_files} files would be exceeded."},
            code=Code.QUOTA_EXCEEDED,
        )


def blob_store_stream(*, tenant: Tenant, stream: BinaryIO) -> Blob:
    """Hash `stream` while spooling it to a local temporary file, then store it once.

    Identical content within a tenant is stored once and shared.
    """
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as spool:
        while chunk := stream.read(CHUNK_SIZE):
            digest.update(chunk)
            spool.write(chunk)
            size += len(chunk)
            if size > settings.REGISTRY_MAX_FILE_SIZE:
                raise CodedValidationError({"file": "The file exceeds the maximum file size."},
                                      code=Code.FILE_TOO_LARGE)
        sha256 = digest.hexdigest()
        existing = Blob.objects.filter(tenant=tenant, sha256=sha256).first()
        if existing is not None:
            return existing
        spool.seek(0)
        key = blob_key(tenant, sha256)
        default_storage.save(key, File(spool, name=key))
    blob, _ = Blob.objects.get_or_create(
        tenant=tenant, sha256=sha256, defaults={"size": size, "storage_key": key}
    )
    return blob


def blob_open(blob: Blob) -> BinaryIO:
    return default_storage.open(blob.storage_key, "rb")


def blobs_release(blob_ids: Iterable[int]) -> None:
    """Delete the blobs no file refers to any more, after the transaction commits."""
    unreferenced = list(
        Blob.objects.filter(pk__in=set(blob_ids), files__isnull=True).values_list(
            "pk", "storage_key"
        )
    )
    if not unreferenced:
        return
    Blob.objects.filter(pk__in=[pk for pk, _ in unreferenced], files__isnull=True).delete()

    def delete_objects() -> None:
        for _, key in unreferenced:
            default_storage.delete(key)

    transaction.on_commit(delete_objects)
