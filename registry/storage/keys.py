"""Storage keys, the part layout of resumable uploads and their signed part tokens.

Keys are made here, never from anything a client sends:

    tenants/<tenant id>/blobs/<sha256[:2]>/<sha256>   a blob, shared by the tenant's files
    tenants/<tenant id>/staging/<uuid>                an upload whose bytes are not verified yet
"""

import mimetypes
import uuid

from django.conf import settings
from django.core import signing
from django.utils import timezone

from accounts.models import Tenant
from registry.models import UploadSession

# One read or write: large enough that Python's per-call overhead disappears, small enough
# that many transfers in flight stay within a worker's memory budget.
CHUNK_SIZE = 2**20
# S3's multipart limits, applied on both backends so a client sees one protocol.
MIN_PART_SIZE = 5 * 2**20
MAX_PART_SIZE = 5 * 2**30
MAX_PARTS = 10_000
PART_TOKEN_SALT = "registry.upload-part"


def blob_key(tenant: Tenant, sha256: str) -> str:
    """The storage key of a blob: derived from its content by the server, never by a client."""
    return f"tenants/{tenant.pk}/blobs/{sha256[:2]}/{sha256}"


def staging_key(tenant: Tenant) -> str:
    return f"tenants/{tenant.pk}/staging/{uuid.uuid4().hex}"


def staging_root(key: str) -> str | None:
    """The staging key a stored key belongs to (itself, or the folder of a resumable upload)."""
    parts = key.split("/")
    if len(parts) >= 4 and parts[0] == "tenants" and parts[2] == "staging":
        return "/".join(parts[:4])
    return None


def guess_content_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def part_size_for(size: int, part_count: int) -> int:
    """Every part but the last has this size; the last has the rest."""
    return -(-size // part_count)


def part_length(session: UploadSession, number: int) -> int:
    if number < session.part_count:
        return session.part_size
    return session.size - session.part_size * (session.part_count - 1)


def part_token(session: UploadSession, number: int) -> str:
    return signing.dumps([session.pk, number], salt=PART_TOKEN_SALT, compress=False)


def part_token_load(token: str) -> tuple[int, int]:
    """(session id, part number) of a token we signed; BadSignature when forged or expired."""
    session_id, number = signing.loads(token, salt=PART_TOKEN_SALT,
                                       max_age=settings.UPLOAD_SESSION_TTL_SECONDS)
    return int(session_id), int(number)


def seconds_left(session: UploadSession) -> int:
    """How long a URL handed out for the session may stay valid."""
    return max(1, int((session.expires_at - timezone.now()).total_seconds()))
