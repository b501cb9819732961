"""The `registry` command: thin over the SDK (`registry_client.Client`).

Exit codes: 0 ok, 1 usage (or a request the server refused as invalid), 2 not found,
3 not downloadable or flagged, 4 authentication or permission, 5 server or network,
6 integrity (a received file's sha256 is not the registry's), 130 interrupted.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichBar
from rich.table import Table

from registry_client import config
from registry_client.client import Client, VersionInfo, evam_folder
from registry_client.errors import (
    EXIT_NOT_DOWNLOADABLE,
    EXIT_OK,
    NotFoundError,
    RegistryError,
    UsageError,
)

out = Console()
err = Console(stderr=True)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit 2, our "not found"
        raise UsageError(f"{self.prog}: {message}")


class Bars:
    """The SDK's Progress drawn as rich bars on stderr: bytes, rate, time left."""

    def __init__(self, enabled: bool) -> None:
        self.bar = RichBar(TextColumn("{task.description}"), BarColumn(),
                           DownloadColumn(binary_units=True),
                           TransferSpeedColumn(), TimeRemainingColumn(), console=err,
                           disable=not enabled, transient=False)
        self.tasks: dict[str, Any] = {}
        self.lock = threading.Lock()

    def __enter__(self) -> Bars:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def start(self, name: str, total: int) -> None:
        with self.lock:
            self.tasks[name] = self.bar.add_task(name, total=total)

    def advance(self, name: str, amount: int) -> None:
        if amount:
            self.bar.advance(self.tasks[name], amount)

    def finish(self, name: str) -> None:
        task = self.tasks[name]
        self.bar.update(task, completed=self.bar.tasks[task].total)


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def emit(args: argparse.Namespace, data: Any, table: Table | None = None) -> None:
    if args.json or table is None:
        print(json.dumps(data, indent=2, default=str))
    else:
        out.print(table)


def client_for(args: argparse.Namespace, **options: Any) -> Client:
    settings = config.load()
    url = args.url or settings.url
    if settings.expired() and settings.refresh_token and not settings.from_environment:
        with Client(url) as anonymous:
            try:
                pair = anonymous.refresh(settings.refresh_token)
            except RegistryError:
                pair = None
        if pair:
            settings.token, settings.refresh_token = pair["accessToken"], pair["refreshToken"]
            settings.expires_at = pair["expiresAt"]
            config.save(settings)
    return Client(url, settings.token, state_dir=config.config_dir(),
                  timeout=getattr(args, "timeout", None) or 60.0, **options)


def version_table(version: VersionInfo) -> Table:
    table = Table(title=f"{version.model_name} {version.version}"
                  + (f" ({version.precision})" if version.precision else "")
                  + (f" aliases: {', '.join(version.aliases)}" if version.aliases else ""))
    for column in ("path", "size", "sha256", "scan"):
        table.add_column(column)
    for f in version.files:
        table.add_row(f.path, human(f.size), f.sha256[:16], f.scan_status)
    return table


# --- commands ------------------------------------------------------------------------------

def cmd_login(args: argparse.Namespace) -> int:
    settings = config.load()
    url = args.url or settings.url
    username = args.username or input("Username: ")
    password = os.environ.get("REGISTRY_PASSWORD") or getpass.getpass("Password: ")
    with Client(url) as anonymous:
        pair = anonymous.login(username, password, args.tenant)
    path = config.save(config.Settings(url=url, token=pair["accessToken"],
                                       refresh_token=pair["refreshToken"],
                                       expires_at=pair["expiresAt"], tenant=pair["tenantSlug"]))
    err.print(f"Logged in to {url} as {username} (tenant {pair['tenantSlug']}); saved in {path}")
    return EXIT_OK


def cmd_logout(args: argparse.Namespace) -> int:
    config.forget()
    err.print("Logged out.")
    return EXIT_OK


def cmd_whoami(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        viewer = client.whoami()
    if viewer["user"] is None and not args.json:
        out.print(f"anonymous at {client.url}")
        return EXIT_OK
    if args.json:
        emit(args, viewer)
    else:
        out.print(f"{viewer['user']['username']} in {viewer['tenant']['slug']} as "
                  f"{viewer['role']} at {client.url} ({viewer['server']['name']} "
                  f"{viewer['server']['version']}, {viewer['server']['storageBackend']})")
    return EXIT_OK


def _pairs(values: list[str]) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise UsageError(f"--metadata takes name=value, not {value!r}.")
        pairs[key] = rest
    return pairs


def cmd_push(args: argparse.Namespace) -> int:
    options = {"parallel": args.parallel, "part_size": int(args.part_size * 2**20),
               "small_file_limit": int(args.small_file_limit * 2**20)}
    with client_for(args, **options) as client, Bars(not args.quiet) as bars:
        version, stats = client.push(args.model, args.version, args.sources, create=args.create,
                                     tags=args.tag, metadata=_pairs(args.metadata),
                                     precision=args.precision, project_name=args.project,
                                     progress=bars)
        if args.wait:
            version = client.wait_for_scan(version.id, timeout=args.wait_timeout)
        reports = client.scan_reports(version.id) if args.wait else []
    flagged = [f for f in version.files if f.scan_status in ("FLAGGED", "ERROR")]
    summary = {"model": version.model_name, "version": version.version, "versionId": version.id,
               "files": [asdict(f) for f in version.files], "stats": asdict(stats)}
    if args.json:
        findings = [r for r in reports if r["verdict"] != "CLEAN"]
        emit(args, {**summary, "findings": findings})
    else:
        out.print(version_table(version))
        err.print(f"pushed {stats.files - stats.files_skipped} of {stats.files} files, "
                  f"{human(stats.bytes_sent)} in {stats.seconds:.1f} s "
                  f"({stats.parts_skipped} parts already on the server)")
        for report in reports:
            for finding in report["findings"]:
                err.print(f"[red]{report['file']['path']}: {finding['severity']} "
                          f"{finding['code']}: {finding['message']}[/red]")
    if flagged:
        listed = ", ".join(f"{f.path}: {f.scan_status}" for f in flagged)
        err.print(f"error: the scan refused {listed}")
        return EXIT_NOT_DOWNLOADABLE
    return EXIT_OK


def _queries(args: argparse.Namespace) -> list[dict[str, str | None]]:
    """What to pull: `--config`'s model_params, NAME@ALIAS, NAME [VERSION], or the flags."""
    flags = {"name": args.name, "project_name": args.project, "version": args.version_flag,
             "category": args.category, "architecture": args.architecture,
             "precision": args.precision, "alias": None}
    if args.ref:
        name, _, alias = args.ref.partition("@")
        flags["name"] = name
        if alias:
            flags["alias"] = alias
        if args.version:
            flags["version"] = args.version
    if args.config:
        section, params = config.evam(args.config)
        keys = {"name": "name", "project_name": "project_name", "version": "version",
                "category": "category", "architecture": "architecture",
                "precision": "precision", "alias": "alias"}
        return [{**flags, **{ours: p.get(theirs) for ours, theirs in keys.items()
                             if p.get(theirs) not in (None, "")}} for p in params]
    if not any(flags.values()):
        raise UsageError("pull needs NAME[@ALIAS] [VERSION], --config, or at least one of "
                         "--name --project --version --category --architecture --precision.")
    return [flags]


def cmd_pull(args: argparse.Namespace) -> int:
    saved_models_dir = args.dir
    timeout = args.timeout
    url = args.url
    if args.config:
        section, _ = config.evam(args.config)
        saved_models_dir = saved_models_dir or section.get("saved_models_dir")
        timeout = timeout or section.get("request_timeout")
        url = url or section.get("url")
    args.url, args.timeout = url, timeout
    folder = Path(saved_models_dir or ".")
    results = []
    with client_for(args) as client:
        for query in _queries(args):
            version = client.get_version(**query)
            dest = evam_folder(folder, version) if args.layout == "evam" else folder
            with Bars(not args.quiet) as bars:
                result = client.pull(version, dest, progress=bars)
            results.append({"path": str(result.path), "model": version.model_name,
                            "version": version.version, "versionId": version.id,
                            "files": [asdict(f) for f in version.files],
                            "stats": asdict(result.stats)})
            if not args.json:
                total = sum(f.size for f in version.files)
                err.print(f"pulled {version.model_name} {version.version} "
                          f"({len(version.files)} files, {human(total)}; "
                          f"{human(result.stats.bytes_received)} downloaded, "
                          f"{result.stats.files_skipped} already present, sha256 verified) "
                          f"into {result.path}")
    if args.json:
        emit(args, results if len(results) > 1 else results[0])
    return EXIT_OK


def cmd_ls(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        if args.model:
            model = client.model(args.model)
            if model is None:
                raise NotFoundError(f"No model {args.model!r}.", "not_found")
            versions = [edge["node"] for edge in model["versions"]["edges"]]
            table = Table(title=f"{model['name']} versions")
            for column in ("version", "precision", "scan", "created"):
                table.add_column(column)
            for v in versions:
                table.add_row(v["version"], v["precision"], v["scanStatus"], v["createdAt"])
            emit(args, model, table)
            return EXIT_OK
        models = client.models(search=args.search, name_prefix=args.prefix, limit=args.limit)
    emit(args, models, _models_table(models))
    return EXIT_OK


def _models_table(models: list[dict[str, Any]]) -> Table:
    table = Table()
    for column in ("name", "project", "category", "architecture", "latest", "scan", "tags"):
        table.add_column(column)
    for m in models:
        latest = m["latestVersion"] or {}
        table.add_row(m["name"], m["projectName"], m["category"], m["architecture"],
                      latest.get("version", ""), latest.get("scanStatus", ""),
                      ", ".join(t["name"] for t in m["tags"]))
    return table


def cmd_search(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        models = client.models(search=args.text, limit=args.limit)
    emit(args, models, _models_table(models))
    return EXIT_OK


def _one_version(client: Client, ref: str, version: str | None) -> VersionInfo:
    name, _, alias = ref.partition("@")
    return client.get_version(name=name, alias=alias or None, version=version)


def cmd_info(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        version = _one_version(client, args.ref, args.version)
    emit(args, asdict(version), version_table(version))
    return EXIT_OK


def cmd_scan_report(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        version = _one_version(client, args.ref, args.version)
        reports = client.scan_reports(version.id)
    table = Table(title=f"scans of {version.model_name} {version.version}")
    for column in ("file", "status", "scanner", "verdict", "findings"):
        table.add_column(column)
    for r in reports:
        findings = "; ".join(f"{f['severity']} {f['code']}: {f['message']}" for f in r["findings"])
        table.add_row(r["file"]["path"], r["file"]["scanStatus"], r["scanner"], r["verdict"],
                      findings or r["error"])
    emit(args, reports, table)
    flagged = [f for f in version.files if f.scan_status in ("FLAGGED", "ERROR")]
    return EXIT_NOT_DOWNLOADABLE if flagged else EXIT_OK


def cmd_tokens(args: argparse.Namespace) -> int:
    with client_for(args) as client:
        if args.action == "create":
            if not args.name:
                raise UsageError("tokens create needs --name.")
            created = client.create_token(args.name, [s.upper() for s in args.scope or ["READ"]],
                                          args.expires_at)
            emit(args, created) if args.json else out.print(created["token"])
            return EXIT_OK
        if args.action == "revoke":
            if not args.id:
                raise UsageError("tokens revoke needs --id.")
            client.revoke_token(args.id)
            return EXIT_OK
        tokens = client.tokens()
    table = Table()
    for column in ("id", "name", "prefix", "scopes", "expires", "last used"):
        table.add_column(column)
    for t in tokens:
        table.add_row(t["id"], t["name"], t["prefix"], ",".join(t["scopes"]), t["expiresAt"],
                      t["lastUsedAt"] or "")
    emit(args, tokens, table)
    return EXIT_OK


def build_parser() -> Parser:
    parser = Parser(prog="registry", description="Push model versions to the registry and "
                    "pull them into deployment folders.", epilog="Exit codes: 0 ok, 1 usage, "
                    "2 not found, 3 not downloadable or flagged, 4 authentication, "
                    "5 server or network, 6 integrity, 130 interrupted.")
    parser.add_argument("--url", help="the registry (default: REGISTRY_URL, the login's, or "
                        f"{config.DEFAULT_URL})")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, handler: Any, help_text: str) -> Parser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--json", action="store_true", help="print JSON for scripts")
        sub.add_argument("--timeout", type=float, help="seconds per request (default 60)")
        sub.set_defaults(handler=handler)
        return sub

    login = command("login", cmd_login, "log in; tokens are kept in the config file (0600)")
    login.add_argument("--username", "-u")
    login.add_argument("--tenant")
    command("logout", cmd_logout, "forget the stored login")
    command("whoami", cmd_whoami, "the user, tenant and role the token acts as")

    push = command("push", cmd_push, "upload files and folders to a model version")
    push.add_argument("model")
    push.add_argument("version")
    push.add_argument("sources", nargs="+", metavar="FILE_OR_DIR")
    push.add_argument("--create", action="store_true", help="create the model/version if new")
    push.add_argument("--tag", action="append", default=[], help="add a tag to the model")
    push.add_argument("--metadata", action="append", default=[], metavar="NAME=VALUE",
                      help="metadata of a version created here")
    push.add_argument("--precision", help="precision of a version created here (FP16, ...)")
    push.add_argument("--project", help="project name of a model created here")
    push.add_argument("--wait", action="store_true",
                      help="wait for the scans; exit 3 with the findings if a file is flagged")
    push.add_argument("--wait-timeout", type=float, default=600.0)
    push.add_argument("--parallel", type=int, default=4, help="parts sent at once (4)")
    push.add_argument("--part-size", type=float, default=64, help="MiB per part (64, min 5)")
    push.add_argument("--small-file-limit", type=float, default=64,
                      help="MiB up to which a file goes in one request (64)")
    push.add_argument("--quiet", "-q", action="store_true", help="no progress bars")

    pull = command("pull", cmd_pull, "download a version, sha256-verified, into a folder")
    pull.add_argument("ref", nargs="?", metavar="NAME[@ALIAS]")
    pull.add_argument("version", nargs="?")
    pull.add_argument("--name")
    pull.add_argument("--project")
    pull.add_argument("--version", dest="version_flag", metavar="VERSION")
    pull.add_argument("--category")
    pull.add_argument("--architecture")
    pull.add_argument("--precision")
    pull.add_argument("--config", help="an EVAM-style JSON config (model_registry, "
                      "model_params)")
    pull.add_argument("--dir", help="saved models folder (default: the config's, or .)")
    pull.add_argument("--layout", choices=("evam", "flat"), default="evam",
                      help="evam: DIR/<name>_m-<version>_<precision>/deployment; flat: DIR")
    pull.add_argument("--quiet", "-q", action="store_true", help="no progress bars")

    ls = command("ls", cmd_ls, "models, or the versions of one model")
    ls.add_argument("model", nargs="?")
    ls.add_argument("--prefix", help="names starting with this")
    ls.add_argument("--search", help="free text")
    ls.add_argument("--limit", type=int, default=100)
    search = command("search", cmd_search, "free-text search over models")
    search.add_argument("text")
    search.add_argument("--limit", type=int, default=100)
    for name, handler, text in (("info", cmd_info, "a version's files and scan status"),
                                ("scan-report", cmd_scan_report,
                                 "a version's scan reports (exit 3 if a file is flagged)")):
        sub = command(name, handler, text)
        sub.add_argument("ref", metavar="NAME[@ALIAS]")
        sub.add_argument("version", nargs="?")
    tokens = command("tokens", cmd_tokens, "list, create or revoke API tokens")
    tokens.add_argument("action", nargs="?", choices=("list", "create", "revoke"),
                        default="list")
    tokens.add_argument("--name")
    tokens.add_argument("--scope", action="append", choices=("read", "write", "admin"))
    tokens.add_argument("--expires-at")
    tokens.add_argument("--id")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.handler(args)
    except RegistryError as error:
        err.print(f"error: {error}", markup=False, highlight=False)
        return error.exit_code
    except KeyboardInterrupt:
        err.print("interrupted: run the same command again to resume")
        return 130


if __name__ == "__main__":
    sys.exit(main())
