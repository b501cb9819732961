"""HTTP endpoints for bytes. Same actor, same visibility rules as GraphQL."""

import re
import tarfile
from collections.abc import Iterator

from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.authentication import actor_from_request
from accounts.errors import CodedValidationError, CommonErrorCode
from registry import catalog, selectors, transfer
from registry.errors import RegistryErrorCode as Code
from registry.models import ArtifactFile
from registry.storage.backends import backend
from registry.storage.keys import CHUNK_SIZE

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)\Z")
# Answers of the part endpoint, S3-like: a bad signature is 403, a closed upload 404.
PART_ERROR_STATUS = {CommonErrorCode.PERMISSION_DENIED: 403, Code.UPLOAD_NOT_OPEN: 404,
                     Code.INVALID_PART: 400}


def _downloadable(artifact: ArtifactFile | None) -> bool:
    return (artifact is not None
            and selectors.file_is_downloadable(artifact, artifact.tenant.scan_policy)
            and not artifact.blob.integrity_error)


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """(first, last) of a single satisfiable `Range`; None to send everything (no header,
    several ranges, or one we do not understand); False when unsatisfiable (416)."""
    match = RANGE_RE.match((header or "").strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        if int(last) == 0 or size == 0:
            return False
        return max(0, size - int(last)), size - 1
    if int(first) >= size or (last != "" and int(last) < int(first)):
        return False
    return int(first), min(int(last), size - 1) if last != "" else size - 1


def _etag_matches(header: str | None, etag: str) -> bool:
    candidates = [value.strip().removeprefix("W/") for value in (header or "").split(",")]
    return "*" in candidates or etag in candidates


class RangeFile:
    """At most `length` bytes of an open file from where it stands. Keeps `fileno`, so
    gunicorn can sendfile() them (it honours Content-Length); other servers read chunks."""

    def __init__(self, file, length: int) -> None:
        self.file = file
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size < 0 else min(size, self.remaining)
        data = self.file.read(size) if size else b""
        self.remaining -= len(data)
        return data

    def fileno(self) -> int:
        return self.file.fileno()

    def close(self) -> None:
        self.file.close()


@require_http_methods(["GET", "HEAD"])
def file_download(request: HttpRequest, file_id: int) -> HttpResponse:
    actor = actor_from_request(request)
    artifact = (selectors.files_visible_to(actor).select_related("blob", "tenant")
                .filter(pk=file_id).first())
    return file_response(request, artifact)


def file_response(request: HttpRequest, artifact: ArtifactFile | None) -> HttpResponse:
    """The bytes of a file already checked visible (Range, ETag, HEAD, S3 redirect), counted;
    shared by the download URL and the MLflow artifacts proxy (mlflow_compat)."""
    # Missing, invisible and quarantined answer alike: nothing about the file leaks.
    if not _downloadable(artifact):
        raise Http404("Not found.")
    etag = f'"{artifact.sha256}"'
    if _etag_matches(request.headers.get("If-None-Match"), etag):
        response = HttpResponseNotModified()
        response["ETag"] = etag
        return response
    size = artifact.size
    byte_range = _byte_range(request.headers.get("Range"), size)
    if_range = request.headers.get("If-Range")
    if byte_range is not None and if_range is not None and if_range.strip() != etag:
        byte_range = None  # the client's copy is of other bytes: send them all
    if byte_range is False:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    if request.method == "GET" and (byte_range is None or byte_range[0] == 0):
        # A resumed download counts once.
        transfer.file_download_record(actor=actor_from_request(request), artifact=artifact)
    filename = artifact.path.rsplit("/", 1)[-1]
    store = backend()
    redirect = (store.download_url(artifact.blob.storage_key, filename, artifact.content_type)
                if request.method == "GET" else None)
    if redirect:
        # S3 serves the bytes (and the Range) itself, through a short-lived presigned URL.
        response = HttpResponseRedirect(redirect)
        response["Cache-Control"] = "private, no-store"
        return response
    first, last = byte_range or (0, size - 1)
    if request.method == "HEAD":
        response = HttpResponse(content_type=artifact.content_type)
    else:
        stream = store.open(artifact.blob.storage_key)
        stream.seek(first)
        response = FileResponse(RangeFile(stream, last - first + 1),
                                content_type=artifact.content_type)
        response.block_size = CHUNK_SIZE
    if byte_range is not None:
        response.status_code = 206
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Content-Length"] = str(max(0, last - first + 1))
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["ETag"] = etag
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private"
    return response


@require_http_methods(["GET"])
def version_archive(request: HttpRequest, kind: str, version_id: int) -> StreamingHttpResponse:
    actor = actor_from_request(request)
    catalog_kind = catalog.BY_NAME.get(kind)
    if catalog_kind is None:
        raise Http404("Not found.")
    version = (selectors.versions_visible_to(actor, catalog_kind)
               .select_related(f"{catalog_kind.parent_field}__tenant")
               .filter(pk=version_id).first())
    if version is None:
        raise Http404("Not found.")
    parent = getattr(version, catalog_kind.parent_field)
    files = list(selectors.version_files(version).select_related("blob", "tenant")
                 .order_by("path"))
    if not files or not all(_downloadable(artifact) for artifact in files):
        raise Http404("Not found.")
    root = f"{parent.name}-{version.version}"
    headers = [_tar_header(root, artifact) for artifact in files]
    for artifact in files:
        transfer.file_download_record(actor=actor, artifact=artifact)
    response = StreamingHttpResponse(_tar_stream(files, headers),
                                     content_type="application/x-tar")
    response["Content-Length"] = str(sum(len(header) + artifact.size + _tar_padding(artifact)
                                         for header, artifact in zip(headers, files,
                                                                     strict=True))
                                     + 2 * tarfile.BLOCKSIZE)
    response["Content-Disposition"] = content_disposition_header(True, f"{root}.tar")
    return response


def _tar_header(root: str, artifact: ArtifactFile) -> bytes:
    header = tarfile.TarInfo(f"{root}/{artifact.path}")
    header.size = artifact.size
    header.mode = 0o644
    header.mtime = int(artifact.created_at.timestamp())
    return header.tobuf(format=tarfile.PAX_FORMAT)


def _tar_padding(artifact: ArtifactFile) -> int:
    return -artifact.size % tarfile.BLOCKSIZE


def _tar_stream(files: list[ArtifactFile], headers: list[bytes]) -> Iterator[bytes]:
    """An uncompressed tar laid out as <name>-<version>/<path>, one chunk in memory at a time."""
    store = backend()
    for artifact, header in zip(files, headers, strict=True):
        yield header
        with store.open(artifact.blob.storage_key) as blob_stream:
            while chunk := blob_stream.read(CHUNK_SIZE):
                yield chunk
        if padding := _tar_padding(artifact):
            yield tarfile.NUL * padding
    yield tarfile.NUL * (2 * tarfile.BLOCKSIZE)  # end-of-archive marker


@csrf_exempt  # the signed URL is the credential; no cookie is involved
@require_http_methods(["PUT"])
def upload_part(request: HttpRequest, token: str) -> HttpResponse:
    """The filesystem's presigned UploadPart: PUT the part's bytes, keep the ETag header."""
    length = request.META.get("CONTENT_LENGTH")
    if not (length or "").isdigit():
        return JsonResponse({"code": Code.INVALID_PART, "message": "Send a Content-Length."},
                            status=411)
    try:
        etag = transfer.upload_part_put(token=token, stream=request, length=int(length))
    except CodedValidationError as error:
        [(field, [message])] = error.message_dict.items()
        code = error.error_dict[field][0].code
        return JsonResponse({"code": code, "field": field, "message": message},
                            status=PART_ERROR_STATUS[code])
    response = HttpResponse(status=200)
    response["ETag"] = f'"{etag}"'
    return response
