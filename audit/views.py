"""Export of the audit trail as CSV or JSON, with the filters of `auditLog` and what the
caller may see of it (`selectors.entries_visible_to`); the credentials are the GraphQL API's
(bearer token, or a session)."""

import csv
import json
from collections.abc import Iterator

from django.core.exceptions import ValidationError
from django.forms import DateTimeField
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.views.decorators.http import require_http_methods

from accounts.authentication import actor_from_request, rejected_credentials_response
from audit import selectors
from audit.models import AuditEntry

COLUMNS = ["created_at", "tenant_slug", "actor_kind", "actor_name", "action", "object_kind",
           "object_id", "object_name", "changes", "request_id", "client_address"]


def _row(entry: AuditEntry) -> dict:
    row = {name: getattr(entry, name) for name in COLUMNS}
    row["created_at"] = entry.created_at.isoformat()
    return row


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_lines(entries) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for entry in entries.iterator(chunk_size=2000):
        row = _row(entry)
        row["changes"] = json.dumps(row["changes"], sort_keys=True)
        yield writer.writerow([row[name] if row[name] is not None else "" for name in COLUMNS])


def _json_lines(entries) -> Iterator[str]:
    yield "["
    for index, entry in enumerate(entries.iterator(chunk_size=2000)):
        yield ("," if index else "") + json.dumps(_row(entry), sort_keys=True)
    yield "]"


def _times(request: HttpRequest) -> dict:
    """`since` and `until` as datetimes; ValidationError naming the one that is not."""
    times = {}
    for name in ("since", "until"):
        value = request.GET.get(name)
        try:
            times[name] = DateTimeField(required=False).clean(value) if value else None
        except ValidationError as error:
            raise ValidationError(f"{name}: give an ISO 8601 date and time.") from error
    return times


@require_http_methods(["GET"])
def audit_export(request: HttpRequest, fmt: str) -> HttpResponse:
    actor = actor_from_request(request)
    if actor.credentials_rejected:
        return rejected_credentials_response()
    try:
        times = _times(request)
    except ValidationError as error:
        return HttpResponseBadRequest(error.messages[0], content_type="text/plain")
    entries = selectors.entries_filtered(
        actor, object_kind=request.GET.get("objectKind"), object_id=request.GET.get("objectId"),
        actor_name=request.GET.get("actor"), action=request.GET.get("action"), **times)
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_lines(entries), content_type="text/csv")
    else:
        response = StreamingHttpResponse(_json_lines(entries), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="audit.{fmt}"'
    return response
