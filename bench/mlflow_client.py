"""Benchmark: MLflow's own client workload against our /api/2.0/mlflow/ adapter and, in the
same run, against an `mlflow server`.

The MLflow server is installed in a throwaway virtualenv ($MLFLOW_VENV, default
/tmp/mlflow-venv, created with `pip install $MLFLOW_SPEC` when missing, as
/work/shared/peer-bench/run.sh does), never in the project's. Both run --workers processes
(default 2): ours gunicorn gthread workers of --threads threads (default 4; SQLite,
filesystem storage) as bench/transfer.py starts it, MLflow's `mlflow server --workers N` on
SQLite, its job runner off. Both are seeded through
MlflowClient with --models registered models, each with a tag, one version and a
`champion` alias. Then, with the
pinned client (mlflow-skinny) of our .venv, each operation runs --requests times,
sequentially and spread over 8 client threads:
search_registered_models (a LIKE filter, 100 a page), get_registered_model,
get_model_version_by_alias, search_model_versions (by name).
It prints p50/p95 (ms) and req/s per operation for both, and ours relative to MLflow's
(latency ratio = MLflow's / ours and throughput ratio = ours / MLflow's, so >= 1 means at
least as fast).

    .venv/bin/python bench/mlflow_client.py [--models 200] [--requests 200] [--workers 2]
        [--threads 4]
"""

import argparse
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from transfer import Server, backend_env, django_run, free_port  # bench/ is the script's folder
from transfer import machine as describe

MLFLOW_VENV = Path(os.environ.get("MLFLOW_VENV", "/tmp/mlflow-venv"))
MLFLOW_SPEC = os.environ.get("MLFLOW_SPEC", "mlflow==3.17.2")
CLIENTS = 8

SETUP = """
import django
django.setup()
from django.core.management import call_command
from accounts.models import Membership, Role, User
from accounts.selectors import actor_for
from accounts.services import api_token_create, ensure_default_tenant
call_command("migrate", verbosity=0)
tenant = ensure_default_tenant()
user = User.objects.create_user("bench", password="bench-password-1")
Membership.objects.create(user=user, tenant=tenant, role=Role.MAINTAINER)
print(api_token_create(actor=actor_for(user=user, tenant=tenant), name="bench",
                       scopes=["read", "write"])[1])
"""


class MlflowServer:
    def __init__(self, workdir: Path, workers: int) -> None:
        if not (MLFLOW_VENV / "bin" / "mlflow").exists():
            subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
            subprocess.run([str(MLFLOW_VENV / "bin" / "pip"), "install", "-q", MLFLOW_SPEC],
                           check=True)
        self.port = free_port()
        self.log = open(workdir / "mlflow-server.log", "w")  # noqa: SIM115 (closed in stop)
        # Its own process group, so its workers stop with it.
        self.process = subprocess.Popen(
            [str(MLFLOW_VENV / "bin" / "mlflow"), "server", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(workers),
             "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
             "--serve-artifacts", "--artifacts-destination", str(workdir / "mlflow-artifacts")],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            # No background job runner (as peer-bench's MLFLOW_JOBS=off): registry reads only.
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2)
                return
            except OSError as error:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"mlflow server did not start: see {self.log.name}") \
                        from error
                time.sleep(1)

    def stop(self) -> None:
        os.killpg(self.process.pid, 15)
        self.process.wait(timeout=30)
        self.log.close()


def seed(client, count: int) -> None:
    for number in range(count):
        name = f"model-{number:05d}"
        client.create_registered_model(name, tags={"team": "vision"})
        client.create_model_version(name, f"s3://bucket/{name}")
        client.set_registered_model_alias(name, "champion", "1")


def operations(client, count: int) -> dict:
    names = [f"model-{number:05d}" for number in range(count)]
    return {
        "search_registered_models": lambda i: client.search_registered_models(
            "name LIKE 'model-000%'", max_results=100),
        "get_registered_model": lambda i: client.get_registered_model(names[i % count]),
        "get_model_version_by_alias": lambda i: client.get_model_version_by_alias(
            names[i % count], "champion"),
        "search_model_versions": lambda i: client.search_model_versions(
            f"name = '{names[i % count]}'"),
    }


def measure(action, requests: int, clients: int) -> dict:
    def one(i: int) -> float:
        start = time.perf_counter()
        action(i)
        return time.perf_counter() - start

    action(0)  # warm: connection, caches
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        latencies = sorted(pool.map(one, range(requests)))
    elapsed = time.perf_counter() - start
    return {"p50": statistics.median(latencies) * 1000,
            "p95": latencies[int(len(latencies) * 0.95) - 1] * 1000,
            "rps": requests / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    arguments = parser.parse_args()
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as folder:
        workdir = Path(folder)
        env = backend_env(workdir, None)
        os.environ["MLFLOW_TRACKING_TOKEN"] = django_run(env, SETUP).strip()
        ours = Server(env, workers=arguments.workers, threads=arguments.threads)
        theirs = MlflowServer(workdir, arguments.workers)
        try:
            servers = {"ours": f"http://127.0.0.1:{ours.port}",
                       "mlflow": f"http://127.0.0.1:{theirs.port}"}
            clients = {label: MlflowClient(tracking_uri=url, registry_uri=url)
                       for label, url in servers.items()}
            for client in clients.values():
                seed(client, arguments.models)
            print(f"workload: {arguments.models} registered models, {arguments.requests} "
                  f"requests per operation; ours: gunicorn {arguments.workers}x"
                  f"{arguments.threads} gthread, SQLite; mlflow server --workers "
                  f"{arguments.workers}, SQLite ({MLFLOW_SPEC}); client mlflow-skinny")
            print(f"machine: {describe()}")
            header = (f"{'operation':28} {'clients':>7} | {'ours p50':>8} {'p95':>7} "
                      f"{'req/s':>7} | {'mlflow p50':>10} {'p95':>7} {'req/s':>7} | "
                      f"{'p50 x':>6} {'p95 x':>6} {'req/s x':>7}")
            print(header)
            print("-" * len(header))
            for parallel in (1, CLIENTS):
                for operation in operations(clients["ours"], arguments.models):
                    # Alternate the two servers for each operation, so drift hits both.
                    figures = {label: measure(
                        operations(client, arguments.models)[operation],
                        arguments.requests, parallel) for label, client in clients.items()}
                    a, b = figures["ours"], figures["mlflow"]
                    print(f"{operation:28} {parallel:>7} | {a['p50']:8.1f} {a['p95']:7.1f} "
                          f"{a['rps']:7.0f} | {b['p50']:10.1f} {b['p95']:7.1f} "
                          f"{b['rps']:7.0f} | {b['p50'] / a['p50']:6.2f} "
                          f"{b['p95'] / a['p95']:6.2f} {a['rps'] / b['rps']:7.2f}")
        finally:
            ours.stop()
            theirs.stop()


if __name__ == "__main__":
    main()
