"""HTTP endpoints for bytes. Same actor, same visibility rules as GraphQL."""

import tarfile
from collections.abc import Iterator

from django.http import FileResponse, Http404, HttpRequest, StreamingHttpResponse
from django.views.decorators.http import require_http_methods

from accounts.authentication import actor_from_request
from registry import selectors, storage
from registry.models import ArtifactFile


@require_http_methods(["GET", "HEAD"])
def file_download(request: HttpRequest, file_id: int) -> FileResponse:
    actor = actor_from_request(request)
    artifact = (selectors.files_visible_to(actor).select_related("blob", "tenant")
                .filter(pk=file_id).first())
    # Missing, invisible and quarantined answer alike: nothing about the file leaks.
    if artifact is None or not selectors.file_is_downloadable(artifact,
                                                              artifact.tenant.scan_policy):
        raise Http404("Not found.")
    response = FileResponse(storage.blob_open(artifact.blob), as_attachment=True,
                            filename=artifact.path.rsplit("/", 1)[-1],
                            content_type=artifact.content_type)
    response["ETag"] = f'"{artifact.sha256}"'
    return response


@require_http_methods(["GET"])
def version_archive(request: HttpRequest, kind: str, version_id: int) -> StreamingHttpResponse:
    actor = actor_from_request(request)
    if kind == "model":
        version = (selectors.model_versions_visible_to(actor).select_related("model__tenant")
                   .filter(pk=version_id).first())
        parent = version.model if version else None
    elif kind == "dataset":
        version = (selectors.dataset_versions_visible_to(actor)
                   .select_related("dataset__tenant").filter(pk=version_id).first())
        parent = version.dataset if version else None
    else:
        version = parent = None
    if version is None:
        raise Http404("Not found.")
    files = list(version.files.select_related("blob").order_by("path"))
    if not files or not all(selectors.file_is_downloadable(f, parent.tenant.scan_policy)
                            for f in files):
        raise Http404("Not found.")
    root = f"{parent.name}-{version.version}"
    response = StreamingHttpResponse(_tar_stream(root, files), content_type="application/x-tar")
    response["Content-Disposition"] = f'attachment; filename="{root}.tar"'
    return response


def _tar_stream(root: str, files: list[ArtifactFile]) -> Iterator[bytes]:
    """An uncompressed tar laid out as <name>-<version>/<path>, one chunk in memory at a time."""
    for artifact in files:
        header = tarfile.TarInfo(f"{root}/{artifact.path}")
        header.size = artifact.size
        header.mode = 0o644
        yield header.tobuf(format=tarfile.PAX_FORMAT)
        with storage.blob_open(artifact.blob) as blob_stream:
            while chunk := blob_stream.read(storage.CHUNK_SIZE):
                yield chunk
        padding = -artifact.size % tarfile.BLOCKSIZE
        if padding:
            yield tarfile.NUL * padding
    yield tarfile.NUL * (2 * tarfile.BLOCKSIZE)  # end-of-archive marker
