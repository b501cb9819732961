"""Benchmark: a large file through every transfer path, on the filesystem and on S3.

Workload: one file of --size bytes (default 2 GiB; a random 64 MiB block repeated) in a
temporary directory, served by gunicorn (gthread workers, as `make serve`) started here on
127.0.0.1 with SQLite in the same temporary directory and warmed up with small transfers.
For each backend:
- `uploadFile`: one GraphQL multipart request (the client sends with sendfile);
- resumable: `startUpload` with 64 MiB parts, PUT of every part (--parallel at a time), then
  `completeUpload`, which checks the parts, the size and the sha256;
- `download`: GET of `downloadUrl` (filesystem: our streamed response; S3: the 302, then the
  presigned GET served by the S3 endpoint);
- `archive`: GET of `archiveUrl` (the version as one tar, streamed through the server).
S3 is moto's server (its own process on 127.0.0.1): a Python emulator that keeps object data
in temporary files and whole request bodies in memory, far slower than S3 or MinIO; its
figures measure mostly moto. Scans are not run (tasks go to an in-memory broker nobody
consumes) and the files are marked clean before they are downloaded.

Memory is warmed right before each measurement, baselines included (see `warm_memory`).
Baselines measured in the same run: `cp` of the file to the same disk, `hashlib.sha256`
over it (the upload's real limit: the server hashes every byte it stores), and both in one
pass on one core (hash+cp: what storing and verifying costs per byte, less the network; an
upload beats it only by spreading the work over cores). Every measurement
starts after a sync, so none pays for the previous one's write-back; the source file stays
in the page cache. Server CPU is the user and system time of the gunicorn workers during each
path, client CPU this process's; CPUs busy is their sum over the path's seconds (the machine's
CPU count is the most it can be); peak RSS the highest VmHWM of a worker during it (reset
between paths).

    .venv/bin/python bench/transfer.py [--size 2G] [--s3-size 1G] [--parallel 4]
                                        [--backends filesystem,s3]
"""

import argparse
import hashlib
import http.client
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from machine import describe_machine  # bench/ is the script's folder

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PART_SIZE = 64 * 2**20
BLOCK = 8 * 2**20
# glibc: serve large buffers from the heap and keep freed memory, instead of mapping fresh
# pages for every chunk read or written (page faults dominate streaming otherwise).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}


def parse_size(text: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units \
        else int(text)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def machine() -> str:
    disk = subprocess.run(["df", "-h", "--output=source,fstype", tempfile.gettempdir()],
                          capture_output=True, text=True).stdout.splitlines()[-1].split()
    return f"{describe_machine()}; temp dir on {' '.join(disk)}"


def make_file(path: Path, size: int) -> None:
    block = os.urandom(PART_SIZE)
    with open(path, "wb") as out:
        for offset in range(0, size, PART_SIZE):
            out.write(block[:min(PART_SIZE, size - offset)])


def warm_memory(workdir: Path, size: int) -> None:
    """Write and delete a scratch file of `size` bytes.

    A virtual machine's host may back guest memory lazily, and the first write to a page then
    costs several times a later one; with free page reporting (virtio-balloon) memory the
    guest frees goes back to the host within seconds. Whichever step first needs fresh page
    cache would pay for it, so every measurement starts right after this.
    """
    scratch = workdir / "scratch.bin"
    block = bytes(PART_SIZE)
    with open(scratch, "wb") as out:
        for _ in range(0, size, PART_SIZE):
            out.write(block)
    scratch.unlink()


def timed(action) -> float:
    """Seconds `action` takes, starting with no dirty page cache to write back."""
    os.sync()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def own_cpu_seconds() -> float:
    """User and system time of this process (the client), all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def sha256_of(path: Path, copy_to: Path | None = None) -> str:
    """The file's sha256; also written to `copy_to` on the way, when given."""
    digest = hashlib.sha256()
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    with (open(path, "rb", buffering=0) as source,
          open(copy_to or os.devnull, "wb") as copy):
        while count := source.readinto(buffer):
            digest.update(view[:count])
            if copy_to:
                copy.write(view[:count])
    return digest.hexdigest()


# --- The server ----------------------------------------------------------------------------

class Server:
    """gunicorn serving the registry with the environment of one backend."""

    def __init__(self, env: dict[str, str], *, workers: int = 2, threads: int = 4) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
             "--timeout", "0", "--log-level", "warning"],
            cwd=ROOT, env={**env, **MALLOC_ENV},
        )
        wait_for_port(self.port)

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def reset_peak_rss(self) -> None:
        for pid in self.workers():
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to current RSS

    def peak_rss_mib(self) -> float:
        peaks = []
        for pid in self.workers():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        return max(peaks)

    def cpu_seconds(self) -> float:
        """User and system time the workers have used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.workers():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class Client:
    """Raw HTTP, so the client is never the bottleneck: bodies go out with sendfile()."""

    def __init__(self, port: int, cookie: str, tenant: str) -> None:
        self.port = port
        # The caller and its tenant, for our server only (never sent to the S3 endpoint).
        self.headers = {"Cookie": cookie, "X-Registry-Tenant": tenant}

    def connection(self, url: str) -> tuple[http.client.HTTPConnection, str, dict]:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if parts.netloc:
            return http.client.HTTPConnection(parts.hostname, parts.port, timeout=3600), path, {}
        return (http.client.HTTPConnection("127.0.0.1", self.port, timeout=3600), path,
                self.headers)

    def graphql(self, query: str, variables: dict) -> dict:
        connection, path, headers = self.connection("/graphql/")
        connection.request("POST", path, body=json.dumps({"query": query,
                                                          "variables": variables}),
                           headers={"Content-Type": "application/json", **headers})
        body = json.loads(connection.getresponse().read())
        assert "errors" not in body, body
        return body["data"]

    def send(self, method: str, url: str, file: Path, offset: int, count: int,
             head: bytes = b"", tail: bytes = b"", content_type: str = ""
             ) -> http.client.HTTPResponse:
        connection, path, headers = self.connection(url)
        connection.putrequest(method, path)
        headers = {**headers, "Content-Length": str(len(head) + count + len(tail))}
        if content_type:
            headers["Content-Type"] = content_type
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        connection.sock.sendall(head)
        with open(file, "rb") as source:
            connection.sock.sendfile(source, offset, count)
        connection.sock.sendall(tail)
        return connection.getresponse()

    def get(self, url: str) -> int:
        """GET `url` (following a redirect), reading the body into a reused buffer."""
        connection, path, headers = self.connection(url)
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        if response.status == 302:
            response.read()
            return self.get(response.getheader("Location"))
        assert response.status == 200, response.status
        buffer = bytearray(BLOCK)
        received = 0
        while count := response.readinto(buffer):
            received += count
        return received


UPLOAD_FILE = """mutation($v: ID!, $p: String!, $f: Upload!) { uploadFile(versionId: $v,
  path: $p, file: $f) { ... on ArtifactFile { id sha256 } ... on OperationInfo { messages { code }
  } } }"""
START = """mutation($v: ID!, $p: String!, $size: BigInt!, $sha: String!, $n: Int!) {
  startUpload(versionId: $v, path: $p, size: $size, sha256: $sha, partCount: $n) {
    ... on UploadSession { id partUrls { partNumber url size } }
    ... on OperationInfo { messages { code message } } } }"""
COMPLETE = """mutation($id: ID!, $parts: [UploadPartInput!]!) {
  completeUpload(uploadId: $id, parts: $parts) {
    ... on ArtifactFile { id sha256 downloadUrl }
    ... on OperationInfo { messages { code message } } } }"""


def upload_graphql(client: Client, version_id: str, file: Path, size: int,
                   path: str = "model.bin") -> dict:
    boundary = uuid.uuid4().hex
    operations = json.dumps({"query": UPLOAD_FILE,
                             "variables": {"v": version_id, "p": path, "f": None}})
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n"
            f"{operations}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"map\""
            f"\r\n\r\n{{\"0\": [\"variables.f\"]}}\r\n--{boundary}\r\nContent-Disposition: "
            f"form-data; name=\"0\"; filename=\"model.bin\"\r\nContent-Type: "
            f"application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    response = client.send("POST", "/graphql/", file, 0, size, head, tail,
                           content_type=f"multipart/form-data; boundary={boundary}")
    return json.loads(response.read())["data"]["uploadFile"]


def upload_resumable(client: Client, version_id: str, file: Path, size: int, sha256: str,
                     parallel: int, phases: dict, path: str = "model.bin") -> dict:
    started = time.perf_counter()
    session = client.graphql(START, {"v": version_id, "p": path, "size": size, "sha": sha256,
                                     "n": -(-size // PART_SIZE)})["startUpload"]
    part_size = session["partUrls"][0]["size"]

    def put(part: dict) -> dict:
        response = client.send("PUT", part["url"], file, (part["partNumber"] - 1) * part_size,
                               part["size"])
        response.read()
        assert response.status == 200, response.status
        return {"partNumber": part["partNumber"], "etag": response.getheader("ETag")}

    with ThreadPoolExecutor(parallel) as pool:
        parts = list(pool.map(put, session["partUrls"]))
    completing = time.perf_counter()
    phases["parts"] = completing - started
    completed = client.graphql(COMPLETE, {"id": session["id"], "parts": parts})
    phases["complete"] = time.perf_counter() - completing
    return completed["completeUpload"]


# --- One backend ---------------------------------------------------------------------------

@contextmanager
def moto_server(workdir: Path):
    port = free_port()
    process = subprocess.Popen([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p",
                                str(port)], cwd=workdir, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ,
                                                               "TMPDIR": str(workdir)})
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def backend_env(workdir: Path, s3_endpoint: str | None) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "REGISTRY_VAR_DIR": str(workdir / "var"), "MEDIA_ROOT": str(workdir / "media"),
           "DATABASE_URL": f"sqlite:///{workdir / 'registry.sqlite3'}",
           "FILE_UPLOAD_TEMP_DIR": str(workdir / "uploads"), "SECRET_KEY": "bench-transfer",
           "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1", "REDIS_URL": "",
           # Scans are queued to a broker nobody consumes: this measures transfers only.
           "CELERY_BROKER_URL": "memory://", "LOG_LEVEL": "WARNING"}
    (workdir / "uploads").mkdir(parents=True, exist_ok=True)
    if s3_endpoint:
        env.update({"AWS_STORAGE_BUCKET_NAME": "bench-transfer",
                    "AWS_S3_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing"})
    else:
        env["AWS_STORAGE_BUCKET_NAME"] = ""
    return env


SETUP = """
import json, sys
import django
django.setup()
from django.core.management import call_command
from django.test import Client
from strawberry.relay import to_base64
from accounts.models import Membership, Role, Tenant, User
from accounts.services import ensure_default_tenant
from registry.models import ModelVersion, RegisteredModel
call_command("migrate", verbosity=0)
tenant = ensure_default_tenant()
user = User.objects.create_user("bench", password="bench-password-1")
versions = {}
for path in ("graphql", "resumable", "warmup"):
    # A tenant per path: blobs are deduplicated per tenant, and each path must store its bytes.
    own = Tenant.objects.create(slug=f"bench-{path}", organization="bench")
    Membership.objects.create(user=user, tenant=own, role=Role.ADMIN)
    model = RegisteredModel.objects.create(tenant=own, owner=user, name=f"model-{path}")
    version = ModelVersion.objects.create(model=model, version="1.0.0", version_major=1,
        version_minor=0, version_patch=0, version_prerelease="~", created_by=user)
    versions[path] = (own.slug, to_base64("ModelVersion", version.pk))
client = Client()
client.force_login(user)
print(json.dumps({"cookie": f"sessionid={client.cookies['sessionid'].value}",
                  "versions": versions}))
"""

RELEASE = """
import sys
import django
django.setup()
from registry.models import ArtifactFile, ScanStatus
ArtifactFile.objects.update(scan_status=ScanStatus.CLEAN)
"""


def django_run(env: dict[str, str], code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


def run_backend(name: str, workdir: Path, file: Path, size: int, sha256: str,
                parallel: int, s3_endpoint: str | None
                ) -> list[tuple[str, float, float, float, float, str]]:
    env = backend_env(workdir, s3_endpoint)
    if s3_endpoint:
        import boto3

        boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                     aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket="bench-transfer")
    setup = json.loads(django_run(env, SETUP))
    server = Server(env)
    results = []

    phases: dict[str, float] = {}

    def measure(label: str, tenant_path: str, action, note=lambda: ""):
        client = Client(server.port, setup["cookie"], setup["versions"][tenant_path][0])
        warm_memory(workdir, size)
        server.reset_peak_rss()
        cpu, client_cpu = server.cpu_seconds(), own_cpu_seconds()
        outcome = {}
        elapsed = timed(lambda: outcome.update(value=action(client)))
        results.append((label, elapsed, server.cpu_seconds() - cpu,
                        own_cpu_seconds() - client_cpu, server.peak_rss_mib(), note()))
        print(f"  {name:10} {label:28} {elapsed:7.2f} s", file=sys.stderr)
        return outcome["value"]

    graphql_version = setup["versions"]["graphql"][1]
    resumable_version = setup["versions"]["resumable"][1]
    warm_up(Client(server.port, setup["cookie"], setup["versions"]["warmup"][0]),
            setup["versions"]["warmup"][1], workdir)
    try:
        uploaded = measure("upload: uploadFile (GraphQL)", "graphql",
                           lambda c: upload_graphql(c, graphql_version, file, size))
        assert uploaded.get("sha256") == sha256, uploaded
        completed = measure("upload: resumable parts", "resumable",
                            lambda c: upload_resumable(c, resumable_version, file, size,
                                                       sha256, parallel, phases),
                            lambda: f"PUTs {phases['parts']:.1f} s, completeUpload "
                                    f"{phases['complete']:.1f} s")
        assert completed.get("sha256") == sha256, completed
        django_run(env, RELEASE)
        received = measure("download: file", "resumable",
                           lambda c: c.get(completed["downloadUrl"]))
        assert received == size, received
        archived = measure("download: version archive", "resumable",
                           lambda c: c.get(c.graphql(ARCHIVE, {"id": resumable_version})
                                           ["node"]["archiveUrl"]))
        assert archived > size, archived
    finally:
        server.stop()
    return results


ARCHIVE = "query($id: ID!) { node(id: $id) { ... on ModelVersion { archiveUrl } } }"


def warm_up(client: Client, version_id: str, workdir: Path) -> None:
    """Small transfers first, so no measurement pays for a worker's first requests (the
    schema's types are resolved lazily, about a second per worker)."""
    small = workdir / "warm-up.bin"
    small.write_bytes(os.urandom(2**20))
    for round_ in range(6):
        upload_graphql(client, version_id, small, 2**20, path=f"graphql-{round_}")
        upload_resumable(client, version_id, small, 2**20, sha256_of(small), 1, {},
                         path=f"resumable-{round_}")
    small.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=2 * 2**30)
    parser.add_argument("--s3-size", type=parse_size, default=2**30,
                        help="file size on S3 (default 1 GiB: moto takes in ~60 MB/s)")
    parser.add_argument("--parallel", type=int, default=4, help="parts in flight")
    parser.add_argument("--backends", default="filesystem,s3")
    arguments = parser.parse_args()
    backends = arguments.backends.split(",")
    workdir = Path(tempfile.mkdtemp(prefix="bench-transfer-"))
    try:
        report(arguments, backends, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def baselines(file: Path, workdir: Path) -> tuple[float, float, float, str]:
    """Seconds for `cp` of the file on the same disk, for hashlib.sha256 over it, and for
    both in one pass on one core (read a block, hash it, write it: what a server storing
    and verifying the bytes does per byte, less the network)."""
    copy = workdir / "copy.bin"
    warm_memory(workdir, file.stat().st_size)
    cp = timed(lambda: subprocess.run(["cp", str(file), str(copy)], check=True))
    copy.unlink()
    digest = {}
    hashing = timed(lambda: digest.update(value=sha256_of(file)))
    warm_memory(workdir, file.stat().st_size)
    hash_and_copy = timed(lambda: sha256_of(file, copy_to=copy))
    copy.unlink()
    return cp, hashing, hash_and_copy, digest["value"]


def report(arguments, backends: list[str], workdir: Path) -> None:
    print(f"Machine: {machine()}")
    print(f"Server: gunicorn, 2 gthread workers x 4 threads, SQLite, on 127.0.0.1, "
          f"{' '.join(f'{k}={v}' for k, v in MALLOC_ENV.items())}; client in this process "
          f"with sendfile(), {arguments.parallel} parts in flight, {PART_SIZE // 2**20} MiB "
          f"parts")
    for name in backends:
        size = arguments.s3_size if name == "s3" else arguments.size
        file = workdir / f"model-{name}.bin"
        make_file(file, size)
        sha256_of(file)  # warm the page cache for both baselines
        cp, hashing, hash_and_copy, sha256 = baselines(file, workdir)
        backend_dir = workdir / name
        backend_dir.mkdir()
        print(f"\n== {name}: {size / 2**30:.2f} GiB file; baselines on the same disk: cp "
              f"{size / cp / 1e6:.0f} MB/s, hashlib.sha256 {size / hashing / 1e6:.0f} MB/s, "
              f"both in one pass (hash+cp) {size / hash_and_copy / 1e6:.0f} MB/s")
        if name == "s3":
            with moto_server(backend_dir) as (endpoint, _):
                print("   S3 endpoint: moto's server (a Python emulator; most of the time "
                      "below is moto's, not the registry's)")
                results = run_backend(name, backend_dir, file, size, sha256,
                                      arguments.parallel, endpoint)
        else:
            results = run_backend(name, backend_dir, file, size, sha256, arguments.parallel,
                                  None)
        print(f"   {'path':30} {'seconds':>8} {'MB/s':>7} {'vs cp':>6} {'vs sha256':>9} "
              f"{'vs hash+cp':>10} {'server CPU s':>12} {'client CPU s':>12} {'CPUs busy':>9} "
              f"{'peak RSS':>9}")
        for label, elapsed, cpu_used, client_cpu, peak, note in results:
            throughput = size / elapsed
            print(f"   {label:30} {elapsed:8.2f} {throughput / 1e6:7.0f} "
                  f"{throughput * cp / size:6.2f} {throughput * hashing / size:9.2f} "
                  f"{throughput * hash_and_copy / size:10.2f} {cpu_used:12.1f} {client_cpu:12.1f} "
                  f"{(cpu_used + client_cpu) / elapsed:9.1f} {peak:5.0f} MiB  {note}")
        file.unlink()
        shutil.rmtree(backend_dir, ignore_errors=True)
    print(f"\nLoad average after the run: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
