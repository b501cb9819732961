"""Benchmark: the client (clients/python) pushing and pulling one large file, against a plain
httpx download of the same file measured in the same run.

Workload: one file of --size bytes (default 1 GiB; a random 64 MiB block repeated) in a
temporary directory; the registry served by gunicorn (as `make serve`, filesystem storage,
SQLite) on 127.0.0.1, started here. Scans are queued to a broker nobody consumes, and the file
is marked clean before it is pulled. The SDK logs in and makes an API token, then:
- push: `Client.push` (hashes the file once, `startUpload` with --part-size parts, --parallel
  PUTs at a time streamed from the file, `completeUpload`);
- pull: `Client.pull` into a new folder (streams to a `.part`, hashes it, fsyncs, renames it
  and the folder into place, writes `registry.lock`);
- baseline: `httpx.stream("GET", downloadUrl)` written to a file, nothing else (no hash, no
  fsync), and `sha256` over the file (what verifying costs on its own).
Each measurement starts after a sync. It prints MB/s, the ratio of each to the baseline, the
client's CPU seconds and its peak RSS after each step (the memory a pull needs stays flat:
it never holds more than a chunk of a file).

    .venv/bin/python bench/client.py [--size 1G] [--part-size 64] [--parallel 4]
"""

import argparse
import json
import resource
import shutil
import sys
import tempfile
from pathlib import Path

import httpx
from transfer import (  # bench/ is the script's folder
    ROOT,
    Server,
    backend_env,
    django_run,
    make_file,
    parse_size,
    sha256_of,
    timed,
    warm_memory,
)
from transfer import machine as describe

sys.path.insert(0, str(ROOT / "clients" / "python"))
from registry_client import Client  # noqa: E402

SETUP = """
import django
django.setup()
from django.core.management import call_command
from accounts.models import Membership, Role, User
from accounts.services import ensure_default_tenant
call_command("migrate", verbosity=0)
user = User.objects.create_user("bench", password="bench-password-1")
Membership.objects.create(user=user, tenant=ensure_default_tenant(), role=Role.MAINTAINER)
"""
RELEASE = """
import django
django.setup()
from registry.models import ArtifactFile, ScanStatus
ArtifactFile.objects.update(scan_status=ScanStatus.CLEAN)
"""


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=2**30)
    parser.add_argument("--part-size", type=int, default=64, help="MiB per part")
    parser.add_argument("--parallel", type=int, default=4, help="parts in flight")
    arguments = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-client-"))
    try:
        run(arguments, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(arguments, workdir: Path) -> None:
    size = arguments.size
    source = workdir / "model.bin"
    make_file(source, size)
    env = backend_env(workdir, None)
    django_run(env, SETUP)
    server = Server(env)
    rows = []
    try:
        url = f"http://127.0.0.1:{server.port}"
        with Client(url) as anonymous:
            access = anonymous.login("bench", "bench-password-1")["accessToken"]
        with Client(url, access) as client:
            token = client.create_token("bench", ["READ", "WRITE"])["token"]
        sdk = Client(url, token, state_dir=workdir / "state", parallel=arguments.parallel,
                     part_size=arguments.part_size * 2**20, timeout=600)
        print(f"workload: one {size / 2**20:,.0f} MiB file, parts of {arguments.part_size} MiB, "
              f"{arguments.parallel} in flight; gunicorn (2 gthread workers) on 127.0.0.1, "
              "filesystem storage, SQLite")
        print(f"machine: {describe()}")

        def measure(label: str, action) -> float:
            warm_memory(workdir, size)
            cpu = cpu_seconds()
            seconds = timed(action)
            rows.append((label, seconds, cpu_seconds() - cpu, peak_rss_mib()))
            return seconds

        pushed = {}
        measure("push (Client.push)", lambda: pushed.update(
            result=sdk.push("bench-model", "1.0.0", [source], create=True)))
        version, stats = pushed["result"]
        assert stats.parts_sent > 0 and version.files[0].size == size
        django_run(env, RELEASE)
        version = sdk.version_by_id(version.id)

        def baseline_download() -> None:
            with (httpx.stream("GET", sdk.absolute(version.files[0].download_url),
                               headers={"Authorization": f"Bearer {token}"},
                               timeout=600) as response,
                  open(workdir / "baseline.bin", "wb") as out):
                response.raise_for_status()
                for chunk in response.iter_bytes(2**20):
                    out.write(chunk)

        measure("baseline: httpx GET to a file", baseline_download)
        (workdir / "baseline.bin").unlink()
        measure("baseline: sha256 of the file", lambda: sha256_of(source))
        pulled = {}
        measure("pull (Client.pull)", lambda: pulled.update(
            result=sdk.pull(version, workdir / "deploy")))
        assert pulled["result"].stats.bytes_received == size
        manifest = json.loads((workdir / "deploy" / "registry.lock").read_text())
        assert manifest["files"][0]["sha256"] == version.files[0].sha256
        sdk.close()
    finally:
        server.stop()
    baseline = next(seconds for label, seconds, _, _ in rows if label.startswith("baseline: h"))
    print()
    print("| step | MB/s | × httpx GET | client CPU-s | client peak RSS MiB |")
    print("|---|---|---|---|---|")
    for label, seconds, cpu, rss in rows:
        print(f"| {label} | {size / seconds / 1e6:,.0f} | {baseline / seconds:.2f} | "
              f"{cpu:.1f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
