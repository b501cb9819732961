"""Counting pulls and pushes: one upsert per counted request, nothing read first."""

from django.db import connection
from django.utils import timezone

from accounts.actor import Actor
from registry.models import ArtifactFile

# INSERT ... ON CONFLICT DO UPDATE (PostgreSQL and SQLite >= 3.24): the row of today and
# this caller is created or incremented in one statement, without a race.
_UPSERT = """
INSERT INTO usage_dailyusage
    (tenant_id, file_id, day, caller, user_id, token_id, pulls, pushes, last_pulled_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (file_id, day, caller) DO UPDATE SET
    pulls = usage_dailyusage.pulls + excluded.pulls,
    pushes = usage_dailyusage.pushes + excluded.pushes,
    last_pulled_at = COALESCE(excluded.last_pulled_at, usage_dailyusage.last_pulled_at)
"""


def caller_of(actor: Actor) -> tuple[str, int | None, int | None]:
    """The caller key, user id and token id of `actor`."""
    if actor.token_id is not None:
        return f"token:{actor.token_id}", actor.user and actor.user.pk, actor.token_id
    if actor.user is not None:
        return f"user:{actor.user.pk}", actor.user.pk, None
    return "anonymous", None, None


def _count(*, actor: Actor, artifact: ArtifactFile, pulls: int, pushes: int) -> None:
    now = timezone.now()
    caller, user_id, token_id = caller_of(actor)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT, [artifact.tenant_id, artifact.pk, timezone.localdate(now),
                                 caller, user_id, token_id, pulls, pushes,
                                 now if pulls else None])


def pull_record(*, actor: Actor, artifact: ArtifactFile) -> None:
    """Count one pull of `artifact` by `actor` today."""
    _count(actor=actor, artifact=artifact, pulls=1, pushes=0)


def push_record(*, actor: Actor, artifact: ArtifactFile) -> None:
    """Count one completed upload of `artifact` by `actor` today."""
    _count(actor=actor, artifact=artifact, pulls=0, pushes=1)
