"""The usage report as CSV or JSON, for the tenant's admins."""

import csv
import io

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods

from accounts.authentication import actor_from_request, rejected_credentials_response

from . import selectors

FIELDS = ["kind", "name", "version", "path", "pulls", "last_pulled_at"]
FORMATS = {"csv", "json"}


@require_http_methods(["GET"])
def usage_report(request: HttpRequest, fmt: str) -> HttpResponse:
    actor = actor_from_request(request)
    if actor.credentials_rejected:
        return rejected_credentials_response()
    try:
        days = int(request.GET.get("days", selectors.DEFAULT_DAYS))
    except ValueError:
        days = 0
    if not 1 <= days <= selectors.MAX_DAYS:
        return JsonResponse({"error": f"`days` is a whole number from 1 to {selectors.MAX_DAYS}.",
                             "code": "invalid_choice"}, status=400)
    files = selectors.usage_report(actor, days=days)
    # Not an admin of a tenant, like a missing page: the report's existence is not told.
    if files is None or fmt not in FORMATS:
        raise Http404("Not found.")
    rows = [{**vars(row), "last_pulled_at": row.last_pulled_at and row.last_pulled_at.isoformat()}
            for row in selectors.report_rows(files)]
    filename = f"usage-{actor.tenant.slug}-{days}d.{fmt}"
    if fmt == "json":
        response = JsonResponse({"tenant": actor.tenant.slug, "days": days, "files": rows})
    else:
        body = io.StringIO()
        writer = csv.DictWriter(body, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({**row, "last_pulled_at": row["last_pulled_at"] or ""} for row in rows)
        response = HttpResponse(body.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
