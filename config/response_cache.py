"""A response cache for GraphQL read queries, invalidated by every database write.

A query's answer is a function of the caller (resolved afresh for every request: user, tenant,
role, groups, token scopes), the document, its variables and the database. Only documents
that select nothing but the fields of `CACHEABLE_FIELDS` (columns and relations read from the
database, nothing that depends on the clock or the request) are cached, and only answers
without errors.

Invalidation does not depend on knowing which writes matter: every connection carries a
`WriteWatcher`, which sees every SQL statement Django runs (ORM saves and deletes,
`queryset.update()`, `bulk_create`, raw SQL, migrations; in the web processes, the Celery
workers and management commands alike). Any statement that is not a read bumps one
generation counter in the shared cache once its transaction commits (immediately in
autocommit), and the generation is part of every key, so a cached answer never outlives a
committed write by more than the moment between the commit and the bump. A rolled back
transaction bumps nothing. Entries also expire after `GRAPHQL_RESPONSE_CACHE_TIMEOUT`
seconds, which bounds what a write from outside Django could leave behind.

The counter and the answers live in Django's default cache, so every server process must
share it (Redis): `GRAPHQL_RESPONSE_CACHE` is on by default only when `REDIS_URL` is set.
"""

import functools
import hashlib
import json
import time
from contextlib import ExitStack
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_schema,
    get_named_type,
    parse,
    visit,
)

from accounts.actor import Actor

GENERATION_KEY = "graphql-response:generation"

# The fields a cached document may select, per type. Each is read from the database and the
# caller alone: no clock (`usage` counts per period), no request (URLs), no secrets.
_CATALOG = {"id", "name", "projectName", "description", "readme", "status", "visibility",
            "license", "author", "organization", "category", "architecture", "framework",
            "createdAt", "updatedAt", "owner", "tags", "latestVersion", "metadata", "versions"}
_VERSION = {"id", "version", "description", "state", "metrics", "createdAt", "updatedAt",
            "createdBy", "immutable", "source", "scanStatus", "metadata"}
_CONNECTION = {"pageInfo", "edges", "totalCount"}
_EDGE = {"cursor", "node"}
_VOCABULARY = {"id", "name", "usage", "description", "createdAt", "usageCount"}
CACHEABLE_FIELDS: dict[str, frozenset[str]] = {name: frozenset(fields) for name, fields in {
    "Query": {"models", "datasets", "tags", "metadataKeys", "node", "nodes",
              "findModelVersion"},
    "Node": {"id"},
    "PageInfo": {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"},
    "RegisteredModelConnection": _CONNECTION, "RegisteredModelEdge": _EDGE,
    "DatasetConnection": _CONNECTION, "DatasetEdge": _EDGE,
    "ModelVersionConnection": _CONNECTION, "ModelVersionEdge": _EDGE,
    "DatasetVersionConnection": _CONNECTION, "DatasetVersionEdge": _EDGE,
    "TagConnection": _CONNECTION, "TagEdge": _EDGE,
    "MetadataKeyConnection": _CONNECTION, "MetadataKeyEdge": _EDGE,
    "RegisteredModel": _CATALOG | {"aliases", "datasets"},
    "Dataset": _CATALOG | {"models"},
    "ModelVersion": _VERSION | {"model", "precision", "checkpoints", "datasetVersions",
                                "hardware", "containerImages", "aliases"},
    "DatasetVersion": _VERSION | {"dataset", "modelVersions"},
    "ModelAlias": {"id", "name", "version", "updatedAt", "protected"},
    "Tag": _VOCABULARY, "MetadataKey": _VOCABULARY,
    "MetadataEntry": {"name", "value"},
    "HardwareRequirements": {"minMemoryMb", "minCpuCores", "gpuMemoryMb", "diskMb",
                             "accelerators"},
    "ContainerImage": {"registry", "repository", "digest"},
    "User": {"id", "username"},
}.items()}

# What a statement that changes nothing starts with (anything else counts as a write).
READ_STATEMENTS = ("SELECT", "SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "SET ", "SHOW",
                   "EXPLAIN", "PRAGMA")


def enabled() -> bool:
    return settings.GRAPHQL_RESPONSE_CACHE


# --------------------------------------------------------------------------- invalidation

def _start_generation() -> None:
    # A counter that was evicted restarts above every value it had (it counts writes, far
    # fewer than nanoseconds), so no answer stored under an old value is ever read again.
    cache.add(GENERATION_KEY, time.time_ns(), timeout=None)


def current_generation() -> int | None:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        _start_generation()
        generation = cache.get(GENERATION_KEY)
    return generation


def bump_generation() -> None:
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # no counter (never started, or evicted): a new one is newer anyway
        _start_generation()


class WriteWatcher:
    """An execute wrapper of one connection: bumps the generation after each write commits.

    Each write statement registers the bump with `on_commit`, so a savepoint rolled back
    drops only its own; `pending` makes the bumps of one commit a single increment."""

    def __init__(self) -> None:
        self.pending = False
        self.context = ExitStack()

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        # Off means off in every process (one setting, from one environment): no answers
        # are kept, so there is nothing to invalidate.
        if enabled() and not str(sql).lstrip()[:9].upper().startswith(READ_STATEMENTS):
            self.pending = True
            # The connection itself, not its alias: PostgreSQL's database creation uses one
            # that `connections` does not know.
            try:
                context["connection"].on_commit(self._bump_once)
            except transaction.TransactionManagementError:  # manual transaction management
                self._bump_once()
        return result

    def _bump_once(self) -> None:
        if self.pending:
            self.pending = False
            bump_generation()


@receiver(connection_created, dispatch_uid="config.response_cache.watch_writes")
def watch_writes(sender, connection, **kwargs) -> None:
    # A connection object opens a new database connection after each CONN_MAX_AGE; it keeps
    # its wrappers, so it is watched once. The watcher holds the wrapper's context entered
    # for as long as the connection object lives (it holds the watcher).
    if any(isinstance(wrapper, WriteWatcher) for wrapper in connection.execute_wrappers):
        return
    watcher = WriteWatcher()
    watcher.context.enter_context(connection.execute_wrapper(watcher))


# --------------------------------------------------------------------------- documents

@functools.cache
def _schema() -> GraphQLSchema:
    from config.schema import schema

    return build_schema(schema.as_str())


class _Cacheable(Visitor):
    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.cacheable = True

    def enter_operation_definition(self, node, *args):
        if node.operation != OperationType.QUERY:
            self.cacheable = False

    def enter_field(self, node, *args):
        if node.name.value == "__typename":
            return
        parent = self.type_info.get_parent_type()
        if (parent is None or self.type_info.get_field_def() is None
                or node.name.value not in CACHEABLE_FIELDS.get(get_named_type(parent).name, ())):
            self.cacheable = False


@functools.lru_cache(maxsize=256)
def document_is_cacheable(document: str) -> bool:
    """True for a query whose every selected field is in CACHEABLE_FIELDS."""
    try:
        ast = parse(document, max_tokens=settings.GRAPHQL_MAX_TOKENS)
    except GraphQLError:
        return False
    type_info = TypeInfo(_schema())
    visitor = _Cacheable(type_info)
    visit(ast, TypeInfoVisitor(type_info, visitor))
    return visitor.cacheable


# --------------------------------------------------------------------------- requests

@dataclass(frozen=True)
class Lookup:
    key: str
    generation: int
    hit: bytes | None


def _caller(actor: Actor) -> list:
    # Everything of the caller a cacheable field's answer can depend on.
    return [actor.user.pk if actor.user else None, actor.tenant.pk if actor.tenant else None,
            actor.role, actor.is_superuser, sorted(actor.scopes) if actor.scopes is not None
            else None, sorted(actor.group_ids)]


def lookup(request: HttpRequest, actor: Actor) -> Lookup | None:
    """The cached answer to `request`'s query (`hit`), or where to store it; None when the
    request is not a cacheable read.

    An entry holds the generation it was computed under (read before computing it) and is
    an answer only while that is still the current one: one round trip reads both."""
    if (not enabled() or request.method != "POST"
            or request.content_type != "application/json"):
        return None
    try:
        body = json.loads(request.body)
        if not isinstance(body, dict) or not isinstance(query := body.get("query"), str):
            return None
        # Over the size limit the view refuses it; the token limit bounds parsing here.
        if (body.get("extensions") or len(query.encode()) > settings.GRAPHQL_MAX_DOCUMENT_BYTES
                or not document_is_cacheable(query)):
            return None
        # The variables as sent, in order: an `order` input's key order is meaningful.
        material = json.dumps([_caller(actor), query, body.get("operationName"),
                               body.get("variables")])
    except (ValueError, RecursionError):  # not JSON (the view answers it), or too deep
        return None
    key = "graphql-response:" + hashlib.sha256(material.encode()).hexdigest()
    found = cache.get_many([GENERATION_KEY, key])
    generation = found.get(GENERATION_KEY)
    if generation is None and (generation := current_generation()) is None:  # evicted twice
        return None
    entry = found.get(key)
    return Lookup(key=key, generation=generation,
                  hit=entry[1] if entry is not None and entry[0] == generation else None)


def hit_response(found: Lookup) -> HttpResponse:
    return HttpResponse(found.hit, content_type="application/json")


def store(found: Lookup, response: HttpResponse, *, had_errors: bool) -> None:
    """Keeps a plain successful answer (no errors, headers or cookies of its own)."""
    if (had_errors or response.status_code != 200 or response.cookies
            or set(response.headers) != {"Content-Type"}
            or len(response.content) > settings.GRAPHQL_RESPONSE_CACHE_MAX_BYTES):
        return
    cache.set(found.key, (found.generation, response.content),
              timeout=settings.GRAPHQL_RESPONSE_CACHE_TIMEOUT)
