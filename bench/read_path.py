#!/usr/bin/env python3
"""In-process timing of the peer benchmark's read queries (no server, no network).

Runs the page of 100 models (latestVersion, tags), the tag search and the name-prefix search
N times through Django's test client as a tenant admin (the peer driver's caller), on a fixed
SQLite catalog (MODELS models x 3 versions, every third one tagged `prod`), and prints p50 and
CPU seconds per query. With `--baseline TREE` it runs the same measurement in TREE (another
checkout, e.g. `git archive main | tar -x -C /tmp/base`) and in this one, alternating, against
the same database file, and prints the CPU time ratio baseline/this. With `--response-cache`
this checkout runs with GRAPHQL_RESPONSE_CACHE on (a local-memory cache), twice: `cold` (the
generation bumped before every request, as after a write: every answer is computed and stored)
and `warm` (every answer after the first from the cache).

    .venv/bin/python bench/read_path.py --baseline /tmp/base [--models 500] [--runs 60]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "bench"))

from machine import describe_machine  # noqa: E402

VERSION_FIELDS = "id version description source state scanStatus createdAt updatedAt"
PAGE = ("query Page($filters: RegisteredModelFilter, $first: Int!) {"
        " models(filters: $filters, order: {name: ASC}, first: $first) {"
        " pageInfo { hasNextPage endCursor }"
        " edges { node { id name description createdAt updatedAt tags { name } "
        f"latestVersion {{ {VERSION_FIELDS} }} }} }} }} }}")
SEARCHES = {"page": None, "tag": {"tags": ["prod"]},
            "prefix": {"name": {"startsWith": "bench-1"}}}


def measure(tree: Path, database: Path, models: int, runs: int, cache: str = "off") -> dict:
    """Times each search `runs` times in `tree`'s code (run in a child process); `cache` is
    off, cold or warm (see the module's docstring)."""
    sys.path.insert(0, str(tree))
    os.chdir(tree)
    os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    settings.GRAPHQL_RESPONSE_CACHE = cache != "off"
    call_command("migrate", verbosity=0)
    admin = _catalog(models)
    client = Client()
    client.force_login(admin)
    figures = {}
    for search, filters in SEARCHES.items():
        body = json.dumps({"query": PAGE, "variables": {"filters": filters, "first": 100}})
        walls, cpus = [], []
        for _ in range(runs + 3):
            if cache == "cold":
                from config.response_cache import bump_generation
                bump_generation()
            wall, cpu = time.perf_counter(), time.process_time()
            response = client.post("/graphql/", data=body, content_type="application/json")
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            assert response.status_code == 200 and b'"errors"' not in response.content, \
                response.content[:500]
        walls, cpus = walls[3:], cpus[3:]  # the first ones warm caches up
        figures[search] = {"p50_ms": statistics.median(walls) * 1000,
                           "cpu_ms": sum(cpus) / len(cpus) * 1000,
                           "bytes": len(response.content)}
    return figures


def _catalog(models: int):
    """The tenant admin; the catalog is created once per database file."""
    from accounts.models import Role
    from accounts.services import ensure_default_tenant
    from registry.models import RegisteredModel, Tag
    from tests.factories import MembershipFactory, ModelVersionFactory, UserFactory

    tenant = ensure_default_tenant()
    membership = tenant.memberships.filter(role=Role.ADMIN).select_related("user").first()
    if membership is not None:
        return membership.user
    admin = UserFactory(username="bench-admin")
    MembershipFactory(user=admin, tenant=tenant, role=Role.ADMIN)
    prod = Tag.objects.create(tenant=tenant, name="prod")
    other = Tag.objects.create(tenant=tenant, name="team-a")
    for n in range(models):
        model = RegisteredModel.objects.create(tenant=tenant, owner=admin, name=f"bench-{n}",
                                               description=f"model {n}")
        model.tags.add(*([prod, other] if n % 3 == 0 else [other]))
        for v in range(1, 4):
            ModelVersionFactory(model=model, version=f"{v}.0.0", description=f"v{v}")
    return admin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to compare against")
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2, help="alternations with --baseline")
    parser.add_argument("--database", type=Path, default=Path("/tmp/read-path-bench.sqlite3"))
    parser.add_argument("--response-cache", action="store_true",
                        help="also run this checkout with the response cache, cold and warm")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-cache", default="off", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.database, args.models, args.runs,
                                 args.child_cache)))
        return

    def run(tree: Path, cache: str) -> dict:
        out = subprocess.run([sys.executable, __file__, "--child", str(tree), "--models",
                              str(args.models), "--runs", str(args.runs), "--database",
                              str(args.database), "--child-cache", cache],
                             check=True, capture_output=True, text=True)
        return json.loads(out.stdout.splitlines()[-1])

    print(f"workload: {args.models} models x 3 versions, SQLite {args.database}, tenant admin, "
          f"page of 100 with tags and latestVersion, {args.runs} runs per query and round")
    print(f"machine: {describe_machine()}")
    trees = {"this": (HERE, "off")}
    if args.response_cache:
        trees |= {"cold": (HERE, "cold"), "warm": (HERE, "warm")}
    if args.baseline:
        trees["baseline"] = (args.baseline.resolve(), "off")
    results = {name: [] for name in trees}
    for _ in range(args.rounds if args.baseline else 1):
        for name, (tree, cache) in trees.items():
            results[name].append(run(tree, cache))
    for search in SEARCHES:
        line = [f"{search:>6}:"]
        best = {}
        for name, rounds in results.items():
            best[name] = {key: min(r[search][key] for r in rounds) for key in ("p50_ms", "cpu_ms")}
            line.append(f"{name} p50 {best[name]['p50_ms']:.1f} ms cpu {best[name]['cpu_ms']:.1f}"
                        f" ms ({rounds[0][search]['bytes']} B)")
        if "baseline" in best:
            line.extend(f"cpu ratio baseline/{name} "
                        f"{best['baseline']['cpu_ms'] / best[name]['cpu_ms']:.2f}x"
                        for name in best if name != "baseline")
        print("  ".join(line))


if __name__ == "__main__":
    main()
