"""The SDK: `Client(url, token)` talks GraphQL to /graphql/ and moves bytes over HTTP.

Pushing: files up to `small_file_limit` bytes go in one `uploadFile` multipart request, larger
ones through a resumable upload (`startUpload`, parallel part PUTs, `completeUpload`) whose
session is remembered in a state file, so an interrupted push resends only missing parts.

Pulling: every file is downloaded into a staging folder beside the destination (resumed with
`Range` when a `.part` is there), its sha256 checked, then renamed into place; the staging
folder replaces the destination in one rename, with a `registry.lock` manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import httpx

from registry_client.errors import (
    AuthError,
    IntegrityError,
    NotDownloadableError,
    NotFoundError,
    RegistryError,
    ServerError,
    UsageError,
    from_code,
)

CHUNK = 2**20
DOWNLOADABLE = ("CLEAN", "RELEASED")
MANIFEST = "registry.lock"
MIN_PART_SIZE = 5 * 2**20  # the server's (S3's) minimum for every part but the last
MAX_PARTS = 10_000
RETRIES = 3

FILE_FIELDS = "id path size sha256 contentType scanStatus downloadUrl"
VERSION_FIELDS = f"""id version precision scanStatus archiveUrl aliases createdAt
  model {{ id name projectName category architecture framework }}
  files {{ {FILE_FIELDS} }}"""
SESSION_FIELDS = "id state partCount partSize size sha256 file { " + FILE_FIELDS + " }"


class Progress(Protocol):
    """What the SDK reports transfers to (the CLI draws rich progress bars from it)."""

    def start(self, name: str, total: int) -> None: ...
    def advance(self, name: str, amount: int) -> None: ...
    def finish(self, name: str) -> None: ...


class NoProgress:
    def start(self, name: str, total: int) -> None:
        pass

    def advance(self, name: str, amount: int) -> None:
        pass

    def finish(self, name: str) -> None:
        pass


@dataclass(frozen=True)
class FileInfo:
    id: str
    path: str
    size: int
    sha256: str
    content_type: str
    scan_status: str
    download_url: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> FileInfo:
        return cls(id=data["id"], path=data["path"], size=int(data["size"]),
                   sha256=data["sha256"], content_type=data["contentType"],
                   scan_status=data["scanStatus"], download_url=data["downloadUrl"])


@dataclass(frozen=True)
class VersionInfo:
    id: str
    model_id: str
    model_name: str
    project_name: str
    version: str
    precision: str
    scan_status: str
    archive_url: str
    aliases: list[str]
    created_at: str
    files: list[FileInfo]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> VersionInfo:
        return cls(id=data["id"], model_id=data["model"]["id"], model_name=data["model"]["name"],
                   project_name=data["model"]["projectName"], version=data["version"],
                   precision=data["precision"], scan_status=data["scanStatus"],
                   archive_url=data["archiveUrl"], aliases=list(data["aliases"]),
                   created_at=data["createdAt"],
                   files=[FileInfo.from_api(f) for f in data["files"]])

    def not_downloadable(self) -> list[FileInfo]:
        return [f for f in self.files if f.scan_status not in DOWNLOADABLE]


@dataclass
class TransferStats:
    """What one push or pull moved: bytes over the network, and what it did not resend."""

    files: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    parts_sent: int = 0
    parts_skipped: int = 0
    files_skipped: int = 0
    seconds: float = 0.0


@dataclass
class PullResult:
    path: Path
    version: VersionInfo
    stats: TransferStats = field(default_factory=TransferStats)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def evam_folder(saved_models_dir: Path, version: VersionInfo) -> Path:
    """EVAM's layout: <saved_models_dir>/<name>_m-<version>_<precision>/deployment."""
    name = f"{version.model_name}_m-{version.version}"
    if version.precision:
        name += f"_{version.precision}"
    return Path(saved_models_dir) / name / "deployment"


def _safe_relative(path: str) -> PurePosixPath:
    """A file's path as the server gave it, refused if it could leave the folder."""
    pure = PurePosixPath(path)
    if (pure.is_absolute() or not pure.parts or any(p in ("", ".", "..") for p in pure.parts)
            or "\\" in path):
        raise ServerError(f"The server sent an unsafe file path: {path!r}")
    return pure


class Client:
    """A registry at `url`, as the holder of `token` (an access or API token; None: anonymous).

    >>> client = Client("http://127.0.0.1:8000", token="rgk_...")
    >>> version = client.find_version(name="yolo-v8-det", precision="FP16")
    >>> client.pull(version, "/opt/models/yolo")
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60.0,
                 state_dir: str | Path | None = None, small_file_limit: int = 64 * 2**20,
                 part_size: int = 64 * 2**20, parallel: int = 4) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.small_file_limit = small_file_limit
        self.part_size = max(part_size, MIN_PART_SIZE)
        self.parallel = max(1, parallel)
        self.state_dir = Path(state_dir) if state_dir else None
        headers = {"User-Agent": "registry-client/0.1"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        limits = httpx.Limits(max_connections=self.parallel + 2)
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout,
                                 limits=limits)
        # Part URLs and storage redirects carry their own credential: no Authorization header.
        self.bare = httpx.Client(headers={"User-Agent": "registry-client/0.1"},
                                 timeout=timeout, limits=limits)
        self._state_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()
        self.bare.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def absolute(self, url: str) -> str:
        return url if "://" in url else f"{self.url}{url}"

    # --- GraphQL -----------------------------------------------------------------------

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """`data` of a GraphQL request; errors raised with the server's code."""
        try:
            response = self.http.post("/graphql/", json={"query": query,
                                                         "variables": variables or {}})
        except httpx.HTTPError as error:
            raise ServerError(f"Cannot reach {self.url}: {error}") from error
        return self._graphql_answer(response)

    def _graphql_answer(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        errors = (body or {}).get("errors") if isinstance(body, dict) else None
        if errors:
            code = (errors[0].get("extensions") or {}).get("code")
            raise from_code(code, errors[0].get("message", "GraphQL error"))
        if response.status_code == 401:
            raise AuthError("The token was refused.", "invalid_token")
        if response.status_code >= 400 or not isinstance(body, dict) or "data" not in body:
            raise ServerError(f"{self.url}/graphql/ answered {response.status_code}.")
        return body["data"]

    @staticmethod
    def payload(data: dict[str, Any], name: str) -> dict[str, Any]:
        """A mutation's object, or its OperationInfo's first message raised as an error."""
        result = data[name]
        if result.get("__typename") == "OperationInfo" or "messages" in result:
            messages = result.get("messages") or [{"message": "refused", "code": None}]
            text = "; ".join(f"{m.get('field') + ': ' if m.get('field') else ''}{m['message']}"
                             for m in messages)
            raise from_code(messages[0].get("code") or "refused", text)
        return result

    def mutate(self, name: str, arguments: str, selection: str,
               variables: dict[str, Any]) -> dict[str, Any]:
        declared = ", ".join(f"${key}: {kind}" for key, kind in variables.pop("__types").items())
        query = (f"mutation({declared}) {{ {name}({arguments}) {{ __typename {selection} "
                 "... on OperationInfo { messages { code field message } } } }")
        return self.payload(self.graphql(query, variables), name)

    # --- accounts ----------------------------------------------------------------------

    def login(self, username: str, password: str, tenant: str | None = None) -> dict[str, Any]:
        """A token pair (accessToken, refreshToken, expiresAt, tenantSlug); not stored here."""
        return self.mutate("login", "username: $u, password: $p, tenant: $t",
                           "... on TokenPair { accessToken refreshToken expiresAt "
                           "refreshExpiresAt tenantSlug }",
                           {"u": username, "p": password, "t": tenant,
                            "__types": {"u": "String!", "p": "String!", "t": "String"}})

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        return self.mutate("refreshToken", "refreshToken: $r",
                           "... on TokenPair { accessToken refreshToken expiresAt "
                           "refreshExpiresAt tenantSlug }",
                           {"r": refresh_token, "__types": {"r": "String!"}})

    def whoami(self) -> dict[str, Any]:
        data = self.graphql("{ viewer { user { username } tenant { slug scanPolicy } role "
                            "isSuperuser } serverInfo { name version storageBackend } }")
        return {**data["viewer"], "server": data["serverInfo"]}

    def tokens(self) -> list[dict[str, Any]]:
        data = self.graphql("{ viewer { apiTokens { id name prefix scopes createdAt lastUsedAt "
                            "expiresAt } } }")
        return data["viewer"]["apiTokens"]

    def create_token(self, name: str, scopes: list[str],
                     expires_at: str | None = None) -> dict[str, Any]:
        """The new API token; its secret (`token`) is shown only in this answer."""
        return self.mutate("createApiToken", "data: {name: $n, scopes: $s, expiresAt: $e}",
                           "... on NewApiToken { token apiToken { id name prefix scopes "
                           "expiresAt } }",
                           {"n": name, "s": scopes, "e": expires_at,
                            "__types": {"n": "String!", "s": "[TokenScope!]!",
                                        "e": "DateTime"}})

    def revoke_token(self, token_id: str) -> None:
        self.mutate("revokeApiToken", "id: $id", "", {"id": token_id, "__types": {"id": "ID!"}})

    # --- catalog -----------------------------------------------------------------------

    def models(self, *, search: str | None = None, name_prefix: str | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
        """Models visible to the caller (newest version, tags), at most `limit`."""
        filters: dict[str, Any] = {}
        if search:
            filters["search"] = search
        if name_prefix:
            filters["name"] = {"startsWith": name_prefix}
        found: list[dict[str, Any]] = []
        after = None
        while len(found) < limit:
            data = self.graphql(
                "query($f: RegisteredModelFilter, $n: Int, $a: String) { models(filters: $f, "
                "first: $n, after: $a) { pageInfo { hasNextPage endCursor } edges { node { "
                "id name projectName category architecture framework status visibility "
                "tags { name } latestVersion { version precision scanStatus } } } } }",
                {"f": filters or None, "n": min(100, limit - len(found)), "a": after})
            page = data["models"]
            found += [edge["node"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        return found

    def model(self, name: str) -> dict[str, Any] | None:
        """The model called `name` with its versions, or None."""
        data = self.graphql(
            "query($n: String!) { models(filters: {name: {exact: $n}}, first: 1) { edges { "
            "node { id name projectName description category architecture framework status "
            "visibility tags { name } aliases { name version { version } } "
            "versions(first: 100) { edges { node { id version precision scanStatus "
            "createdAt } } } } } } }", {"n": name})
        edges = data["models"]["edges"]
        return edges[0]["node"] if edges else None

    def find_version(self, *, name: str | None = None, project_name: str | None = None,
                     version: str | None = None, category: str | None = None,
                     architecture: str | None = None, precision: str | None = None,
                     alias: str | None = None) -> VersionInfo | None:
        """The newest visible version matching all the given fields (an AND), or None."""
        arguments = {"name": name, "projectName": project_name, "version": version,
                     "category": category, "architecture": architecture,
                     "precision": precision, "alias": alias}
        given = {key: value for key, value in arguments.items() if value is not None}
        if not given:
            raise UsageError("Give at least one of name, project, version, category, "
                             "architecture, precision or alias.")
        declared = ", ".join(f"${key}: String" for key in given)
        passed = ", ".join(f"{key}: ${key}" for key in given)
        data = self.graphql(f"query({declared}) {{ findModelVersion({passed}) "
                            f"{{ {VERSION_FIELDS} }} }}", given)
        found = data["findModelVersion"]
        return VersionInfo.from_api(found) if found else None

    def get_version(self, **query: str | None) -> VersionInfo:
        """`find_version`, raising NotFoundError when nothing matches."""
        found = self.find_version(**query)
        if found is None:
            described = ", ".join(f"{k}={v}" for k, v in query.items() if v is not None)
            raise NotFoundError(f"No model version matches {described}.", "not_found")
        return found

    def version_by_id(self, version_id: str) -> VersionInfo:
        data = self.graphql(f"query($id: ID!) {{ node(id: $id) {{ ... on ModelVersion "
                            f"{{ {VERSION_FIELDS} }} }} }}", {"id": version_id})
        if not data["node"]:
            raise NotFoundError("The version does not exist or is not visible.", "not_found")
        return VersionInfo.from_api(data["node"])

    def scan_reports(self, version_id: str) -> list[dict[str, Any]]:
        data = self.graphql(
            "query($v: ID!) { scanReports(versionId: $v, first: 100) { edges { node { "
            "file { path scanStatus } scanner verdict detectedFormat error finishedAt "
            "findings { severity code message location } } } } }", {"v": version_id})
        return [edge["node"] for edge in data["scanReports"]["edges"]]

    def create_model(self, name: str, **fields: Any) -> dict[str, Any]:
        """A new model; `fields` as createModel's input (projectName, visibility, tags...)."""
        return self.mutate("createModel", "data: $d", "... on RegisteredModel { id name }",
                           {"d": {"name": name, **fields},
                            "__types": {"d": "CreateModelInput!"}})

    def add_tags(self, model_id: str, tags: list[str]) -> None:
        self.mutate("updateModel", "data: $d", "... on RegisteredModel { id }",
                    {"d": {"id": model_id, "tags": {"add": tags}},
                     "__types": {"d": "UpdateModelInput!"}})

    def create_version(self, model_id: str, version: str, **fields: Any) -> VersionInfo:
        """A new version; `fields` as createModelVersion's input (precision, metadata...)."""
        created = self.mutate("createModelVersion", "data: $d", f"... on ModelVersion "
                              f"{{ {VERSION_FIELDS} }}",
                              {"d": {"modelId": model_id, "version": version, **fields},
                               "__types": {"d": "CreateModelVersionInput!"}})
        return VersionInfo.from_api(created)

    # --- push --------------------------------------------------------------------------

    def push(self, model: str, version: str, sources: list[str | Path], *,
             create: bool = False, tags: list[str] | None = None,
             metadata: dict[str, str] | None = None, precision: str | None = None,
             project_name: str | None = None, progress: Progress | None = None,
             on_part: Callable[[str, int], None] | None = None) -> tuple[VersionInfo,
                                                                          TransferStats]:
        """Upload files and folders (a folder's files keep their paths below it) to
        `model` `version`, creating both when `create` is set. Files the version already
        holds with the same sha256 are skipped; an interrupted resumable upload resumes."""
        progress = progress or NoProgress()
        files = self._local_files(sources)
        started = time.monotonic()
        found = self.find_version(name=model, version=version)
        if found is None:
            existing = self.model(model)
            if not create:
                what = f"model {model!r}" if existing is None else f"version {version!r}"
                raise NotFoundError(f"No {what} (use --create to make it).", "not_found")
            if existing is None:
                extra = {"projectName": project_name} if project_name else {}
                existing = self.create_model(model, **extra)
            fields: dict[str, Any] = {}
            if precision:
                fields["precision"] = precision
            if metadata:
                fields["metadata"] = [{"name": k, "value": v} for k, v in metadata.items()]
            found = self.create_version(existing["id"], version, **fields)
        if tags:
            self.add_tags(found.model_id, tags)
        held = {f.path: f for f in found.files}
        stats = TransferStats()
        for local, remote in files:
            size = local.stat().st_size
            sha = sha256_of(local)  # computed once; the server verifies it
            stats.files += 1
            if remote in held and held[remote].sha256 == sha:
                stats.files_skipped += 1
                continue
            progress.start(remote, size)
            if size <= self.small_file_limit:
                self._upload_small(found.id, local, remote, size, progress)
                stats.bytes_sent += size
            else:
                self._upload_resumable(found.id, local, remote, size, sha, progress, stats,
                                       on_part)
            progress.finish(remote)
        stats.seconds = time.monotonic() - started
        return self.version_by_id(found.id), stats

    @staticmethod
    def _local_files(sources: list[str | Path]) -> list[tuple[Path, str]]:
        files: list[tuple[Path, str]] = []
        for source in map(Path, sources):
            if source.is_dir():
                for local in sorted(p for p in source.rglob("*") if p.is_file()):
                    files.append((local, local.relative_to(source).as_posix()))
            elif source.is_file():
                files.append((source, source.name))
            else:
                raise UsageError(f"{source}: no such file or folder.")
        if not files:
            raise UsageError("Nothing to push: the folders given hold no files.")
        remotes = [remote for _, remote in files]
        if len(set(remotes)) != len(remotes):
            raise UsageError("Two files would have the same path in the version.")
        return files

    def _upload_small(self, version_id: str, local: Path, remote: str, size: int,
                      progress: Progress) -> FileInfo:
        query = ("mutation($v: ID!, $p: String!, $f: Upload!) { uploadFile(versionId: $v, "
                 f"path: $p, file: $f) {{ __typename ... on ArtifactFile {{ {FILE_FIELDS} }} "
                 "... on OperationInfo { messages { code field message } } } }")
        operations = json.dumps({"query": query,
                                 "variables": {"v": version_id, "p": remote, "f": None}})
        with open(local, "rb") as stream:
            try:
                response = self.http.post("/graphql/", data={
                    "operations": operations, "map": json.dumps({"0": ["variables.f"]})},
                    files={"0": (local.name, stream, "application/octet-stream")})
            except httpx.HTTPError as error:
                raise ServerError(f"Upload of {remote} failed: {error}") from error
        created = self.payload(self._graphql_answer(response), "uploadFile")
        progress.advance(remote, size)
        return FileInfo.from_api(created)

    # Resumable uploads: the session of each (server, version, path, sha256) in a state file.

    def _state_file(self) -> Path | None:
        return self.state_dir / "uploads.json" if self.state_dir else None

    def _state(self) -> dict[str, str]:
        path = self._state_file()
        if path is None or not path.exists():
            return {}
        try:
            return json.loads(path.read_text())
        except ValueError:
            return {}

    def _state_set(self, key: str, upload_id: str | None) -> None:
        path = self._state_file()
        if path is None:
            return
        with self._state_lock:
            state = self._state()
            if upload_id is None:
                state.pop(key, None)
            else:
                state[key] = upload_id
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps(state, indent=1))
            os.replace(temporary, path)

    def _session(self, upload_id: str) -> dict[str, Any] | None:
        data = self.graphql(f"query($id: ID!) {{ node(id: $id) {{ ... on UploadSession {{ "
                            f"{SESSION_FIELDS} uploadedParts {{ partNumber etag size }} }} }} }}",
                            {"id": upload_id})
        return data["node"] or None

    def _upload_resumable(self, version_id: str, local: Path, remote: str, size: int,
                          sha: str, progress: Progress, stats: TransferStats,
                          on_part: Callable[[str, int], None] | None) -> FileInfo:
        key = f"{self.url}|{version_id}|{remote}|{size}|{sha}"
        session = None
        if upload_id := self._state().get(key):
            session = self._session(upload_id)
            if session is not None and session["state"] == "COMPLETED" and session["file"]:
                self._state_set(key, None)
                return FileInfo.from_api(session["file"])
            if session is not None and session["state"] != "OPEN":
                session = None
        if session is None:
            part_count = min(MAX_PARTS, max(1, -(-size // self.part_size)))
            # The server makes every part but the last ceil(size / count) bytes long.
            while part_count > 1 and (-(-size // part_count) < MIN_PART_SIZE
                                      or -(-size // part_count) * (part_count - 1) >= size):
                part_count -= 1
            session = self.mutate(
                "startUpload", "versionId: $v, path: $p, size: $s, sha256: $h, partCount: $n",
                f"... on UploadSession {{ {SESSION_FIELDS} }}",
                {"v": version_id, "p": remote, "s": size, "h": sha, "n": part_count,
                 "__types": {"v": "ID!", "p": "String!", "s": "BigInt!", "h": "String!",
                             "n": "Int!"}})
            session["uploadedParts"] = []
            self._state_set(key, session["id"])
        etags = {part["partNumber"]: part["etag"] for part in session["uploadedParts"]}
        part_size = int(session["partSize"])
        stats.parts_skipped += len(etags)
        progress.advance(remote, sum(int(part["size"]) for part in session["uploadedParts"]))
        missing = [n for n in range(1, session["partCount"] + 1) if n not in etags]
        if missing:
            data = self.graphql("query($id: ID!, $n: [Int!]) { node(id: $id) { ... on "
                                "UploadSession { partUrls(partNumbers: $n) { partNumber url "
                                "size } } } }", {"id": session["id"], "n": missing})
            urls = (data["node"] or {}).get("partUrls") or []
            if len(urls) != len(missing):
                raise ServerError("The upload closed while resuming; push again.",
                                  "upload_not_open")

            def send(part: dict[str, Any]) -> tuple[int, str]:
                number = part["partNumber"]
                etag = self._put_part(local, remote, part, part_size, progress)
                stats.parts_sent += 1
                stats.bytes_sent += int(part["size"])
                if on_part is not None:
                    on_part(remote, number)
                return number, etag

            pool = ThreadPoolExecutor(max_workers=self.parallel)
            futures = [pool.submit(send, part) for part in urls]
            try:
                for future in futures:
                    number, etag = future.result()
                    etags[number] = etag
            except BaseException:
                # Ctrl-C or a failed part: stop now; the parts received stay for a resume.
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown()
        created = self.mutate(
            "completeUpload", "uploadId: $id, parts: $parts",
            f"... on ArtifactFile {{ {FILE_FIELDS} }}",
            {"id": session["id"],
             "parts": [{"partNumber": n, "etag": e} for n, e in sorted(etags.items())],
             "__types": {"id": "ID!", "parts": "[UploadPartInput!]!"}})
        self._state_set(key, None)
        return FileInfo.from_api(created)

    def _put_part(self, local: Path, remote: str, part: dict[str, Any], part_size: int,
                  progress: Progress) -> str:
        number, length = part["partNumber"], int(part["size"])
        offset = (number - 1) * part_size

        def body() -> Iterator[bytes]:
            with open(local, "rb") as stream:
                stream.seek(offset)
                left = length
                while left:
                    chunk = stream.read(min(CHUNK, left))
                    if not chunk:
                        raise UsageError(f"{local} changed while it was pushed.")
                    left -= len(chunk)
                    progress.advance(remote, len(chunk))
                    yield chunk

        last: Exception | None = None
        for attempt in range(RETRIES):
            try:
                response = self.bare.put(self.absolute(part["url"]), content=body(),
                                         headers={"Content-Length": str(length)})
            except httpx.HTTPError as error:
                last = error
            else:
                if response.status_code == 200 and response.headers.get("ETag"):
                    return response.headers["ETag"].strip('"')
                if response.status_code not in (400, 500, 502, 503, 504):
                    raise self._http_error(response, f"part {number} of {remote}")
                last = ServerError(f"part {number} of {remote}: {response.status_code} "
                                   f"{response.text[:200]}")
            progress.advance(remote, -length)  # counted again by the next attempt
            time.sleep(0.5 * 2**attempt)
        raise ServerError(f"Part {number} of {remote} failed {RETRIES} times ({last}); push "
                          "again to resume.")

    @staticmethod
    def _http_error(response: httpx.Response, what: str) -> RegistryError:
        code = None
        with contextlib.suppress(ValueError):
            code = response.json().get("code")
        text = f"{what}: the server answered {response.status_code}"
        if response.status_code in (401, 403):
            return AuthError(text, code or "permission_denied")
        if response.status_code == 404:
            return NotFoundError(text, code or "not_found")
        return ServerError(text, code)

    def wait_for_scan(self, version_id: str, *, timeout: float = 600.0,
                      interval: float = 1.0) -> VersionInfo:
        """The version once none of its files is PENDING (ServerError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            version = self.version_by_id(version_id)
            if not any(f.scan_status == "PENDING" for f in version.files):
                return version
            if time.monotonic() > deadline:
                raise ServerError(f"Scans still pending after {timeout:.0f} s.")
            time.sleep(interval)

    # --- pull --------------------------------------------------------------------------

    def pull(self, version: VersionInfo, dest: str | Path, *,
             progress: Progress | None = None) -> PullResult:
        """Download every file of `version` into the folder `dest`, atomically.

        Refuses (NotDownloadableError) unless every file is scanned clean or released.
        Files already in `dest` with the right sha256 are reused, a `.part` left by an
        interrupted pull is resumed, and `dest` is replaced in one rename, with a
        `registry.lock` manifest; an interrupted pull leaves `dest` as it was."""
        progress = progress or NoProgress()
        refused = version.not_downloadable()
        if refused:
            listed = ", ".join(f"{f.path}: {f.scan_status}" for f in refused)
            raise NotDownloadableError(
                f"{version.model_name} {version.version} is not downloadable: not every file "
                f"is scanned clean ({listed}).", "not_downloadable")
        if not version.files:
            raise NotFoundError(f"{version.model_name} {version.version} has no files.",
                                "not_found")
        started = time.monotonic()
        dest = Path(dest).absolute()
        if dest.exists() and (not dest.is_dir() or (any(dest.iterdir())
                                                    and not (dest / MANIFEST).exists())):
            raise UsageError(f"{dest} exists and was not made by `registry pull`; choose a new "
                             "or empty folder.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = dest.parent / f".{dest.name}.registry-partial"
        marker = staging / ".registry-version"
        if staging.exists() and (not marker.exists() or marker.read_text() != version.id):
            shutil.rmtree(staging)  # left by a pull of another version
        staging.mkdir(exist_ok=True)
        marker.write_text(version.id)
        result = PullResult(path=dest, version=version)
        for info in version.files:
            relative = _safe_relative(info.path)
            target = staging.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            result.stats.files += 1
            if target.exists() and sha256_of(target) == info.sha256:
                result.stats.files_skipped += 1
                continue
            present = dest.joinpath(*relative.parts)
            if present.is_file() and sha256_of(present) == info.sha256:
                shutil.copy2(present, target)
                result.stats.files_skipped += 1
                continue
            progress.start(info.path, info.size)
            result.stats.bytes_received += self._download(info, target, progress)
            progress.finish(info.path)
        marker.unlink()
        manifest = {
            "server": self.url, "model": version.model_name,
            "projectName": version.project_name, "version": version.version,
            "versionId": version.id, "precision": version.precision,
            "pulledAt": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256}
                      for f in version.files],
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        self._swap_into_place(staging, dest)
        result.stats.seconds = time.monotonic() - started
        return result

    @staticmethod
    def _swap_into_place(staging: Path, dest: Path) -> None:
        if not dest.exists():
            os.replace(staging, dest)
            return
        old = dest.parent / f".{dest.name}.registry-old"
        if old.exists():
            shutil.rmtree(old)
        os.replace(dest, old)
        os.replace(staging, dest)
        shutil.rmtree(old)

    def _download(self, info: FileInfo, target: Path, progress: Progress) -> int:
        """Fetch `info` into `target` through `target.part`, resuming it; bytes received."""
        partial = target.with_name(target.name + ".part")
        received = 0
        last: Exception | None = None
        for attempt in range(RETRIES):
            try:
                received += self._fetch(info, partial, progress)
                break
            except httpx.HTTPError as error:
                last = error
                time.sleep(0.5 * 2**attempt)
        else:
            raise ServerError(f"Download of {info.path} failed {RETRIES} times ({last}); pull "
                              "again to resume.")
        actual = sha256_of(partial)
        if actual != info.sha256:
            partial.unlink()
            raise IntegrityError(f"{info.path}: received sha256 {actual}, the registry has "
                                 f"{info.sha256}; the file was discarded.", "integrity_mismatch")
        os.replace(partial, target)
        return received

    def _fetch(self, info: FileInfo, partial: Path, progress: Progress) -> int:
        offset = partial.stat().st_size if partial.exists() else 0
        if offset > info.size:
            partial.unlink()
            offset = 0
        progress.advance(info.path, offset)
        if offset == info.size and info.size:
            return 0
        headers = {}
        if offset:
            headers = {"Range": f"bytes={offset}-", "If-Range": f'"{info.sha256}"'}
        url = self.absolute(info.download_url)
        response = self.http.send(self.http.build_request("GET", url, headers=headers),
                                  stream=True)
        if response.is_redirect:  # S3: a presigned URL, its own credential
            response.close()
            location = response.headers["Location"]
            response = self.bare.send(self.bare.build_request(
                "GET", self.absolute(location), headers=headers), stream=True)
        try:
            if response.status_code == 404:
                raise NotDownloadableError(
                    f"{info.path}: the server refused its bytes (404: not scanned clean, not "
                    f"visible or failed verification; scan status {info.scan_status}).",
                    "not_downloadable")
            if response.status_code in (401, 403):
                raise AuthError(f"{info.path}: download refused ({response.status_code}).",
                                "invalid_token")
            if response.status_code == 416:
                partial.unlink()
                progress.advance(info.path, -offset)
                raise httpx.TransportError("range not satisfiable; starting over")
            if response.status_code not in (200, 206):
                raise ServerError(f"{info.path}: the server answered {response.status_code}.")
            mode = "ab" if response.status_code == 206 else "wb"
            if mode == "wb" and offset:
                progress.advance(info.path, -offset)
            received = 0
            with open(partial, mode) as out:
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    progress.advance(info.path, len(chunk))
                out.flush()
                os.fsync(out.fileno())
            return received
        finally:
            response.close()


def load_manifest(folder: str | Path) -> dict[str, Any]:
    """The `registry.lock` a pull wrote into `folder`."""
    return json.loads((Path(folder) / MANIFEST).read_text())


def verify_folder(folder: str | Path) -> list[str]:
    """Paths of `folder` that do not match its manifest (missing or other bytes)."""
    manifest = load_manifest(folder)
    bad = []
    for entry in manifest["files"]:
        path = Path(folder).joinpath(*_safe_relative(entry["path"]).parts)
        if not path.is_file() or sha256_of(path) != entry["sha256"]:
            bad.append(entry["path"])
    return bad


__all__ = ["Client", "FileInfo", "VersionInfo", "TransferStats", "PullResult", "evam_folder",
           "load_manifest", "verify_folder", "sha256_of"]
