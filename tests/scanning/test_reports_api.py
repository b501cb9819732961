"""Scan reports through GraphQL: `scanReports(versionId)`, nested fields, visibility."""

import os
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from scanning import services
from scanning.models import ScanReport
from scanning.scanners import SCANNER_VERSION, Finding, ScanResult, Severity
from tests.conftest import graphql_client_for
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.scanning import corpus
from tests.scanning.conftest import global_id

pytestmark = pytest.mark.django_db

REPORT_FIELDS = """
  id trigger scanner scannerVersion verdict detectedFormat error
  startedAt finishedAt durationSeconds
  file { path scanStatus }
  findings { severity code message location }
"""

SCAN_REPORTS = f"""
query($versionId: ID!) {{
  scanReports(versionId: $versionId) {{ totalCount edges {{ node {{ {REPORT_FIELDS} }} }} }}
}}
"""

NESTED = """
query($id: ID!) {
  node(id: $id) {
    ... on ModelVersion {
      scanStatus
      scanReports { file { path } verdict findings { code } }
      files { path scanReports { verdict findings { severity code } } }
    }
  }
}
"""

FINDINGS = [
    Finding(Severity.CRITICAL, "pickle.unsafe_global", "posix.system is called",
            "archive/data.pkl@12"),
    Finding(Severity.INFO, "pickle.protocol", "protocol 2", "archive/data.pkl"),
]


@pytest.fixture
def scanned(upload, monkeypatch):
    """A clean README and a checkpoint the (stubbed) scanner flags with FINDINGS."""
    readme = upload(corpus.TEXT, "README.md")
    monkeypatch.setattr(services, "scan_stream", lambda stream, *, name, **options: ScanResult(
        scanner="pytorch", scanner_version=SCANNER_VERSION, verdict="flagged",
        findings=FINDINGS, detected_format="pytorch-zip", duration_seconds=0.5,
    ))
    checkpoint = upload(corpus.malicious_checkpoint(), "weights/checkpoint.pt")
    return readme, checkpoint


def _expected(report: ScanReport, path: str, status: str, verdict: str, scanner: str,
              detected_format: str, findings: list[dict]) -> dict:
    return {
        "id": global_id(report), "trigger": "UPLOAD", "scanner": scanner,
        "scannerVersion": SCANNER_VERSION, "verdict": verdict, "detectedFormat": detected_format,
        "error": "", "startedAt": report.started_at.isoformat(),
        "finishedAt": report.finished_at.isoformat(),
        "durationSeconds": report.duration_seconds,
        "file": {"path": path, "scanStatus": status}, "findings": findings,
    }


def test_scan_reports_of_a_version(scanned, version, maintainer):
    readme, checkpoint = scanned
    readme_report, checkpoint_report = readme.scan_reports.get(), checkpoint.scan_reports.get()

    result = graphql_client_for(maintainer)(SCAN_REPORTS, {"versionId": global_id(version)})

    assert result.data["scanReports"] == {"totalCount": 2, "edges": [
        {"node": _expected(readme_report, "README.md", "CLEAN", "CLEAN", "unknown", "text", [{
            "severity": "INFO", "code": "format.unrecognised",
            "message": "text content: no scanner applies and nothing executable was found",
            "location": "README.md",
        }])},
        {"node": _expected(checkpoint_report, "weights/checkpoint.pt", "FLAGGED", "FLAGGED",
                           "pytorch", "pytorch-zip", [
            {"severity": "CRITICAL", "code": "pickle.unsafe_global",
             "message": "posix.system is called", "location": "archive/data.pkl@12"},
            {"severity": "INFO", "code": "pickle.protocol", "message": "protocol 2",
             "location": "archive/data.pkl"},
        ])},
    ]}


def test_reports_nested_in_versions_and_files(scanned, version, maintainer):
    result = graphql_client_for(maintainer)(NESTED, {"id": global_id(version)})

    critical = [{"code": "pickle.unsafe_global"}, {"code": "pickle.protocol"}]
    assert result.data["node"] == {
        "scanStatus": "FLAGGED",
        "scanReports": [
            {"file": {"path": "README.md"}, "verdict": "CLEAN",
             "findings": [{"code": "format.unrecognised"}]},
            {"file": {"path": "weights/checkpoint.pt"}, "verdict": "FLAGGED",
             "findings": critical},
        ],
        "files": [
            {"path": "README.md", "scanReports": [
                {"verdict": "CLEAN", "findings": [{"severity": "INFO",
                                                   "code": "format.unrecognised"}]}]},
            {"path": "weights/checkpoint.pt", "scanReports": [
                {"verdict": "FLAGGED", "findings": [
                    {"severity": "CRITICAL", "code": "pickle.unsafe_global"},
                    {"severity": "INFO", "code": "pickle.protocol"}]}]},
        ],
    }


def test_newest_report_first(upload, version, maintainer, django_capture_on_commit_callbacks):
    artifact = upload(corpus.TEXT, "README.md")
    first = artifact.scan_reports.get()
    ScanReport.objects.filter(pk=first.pk).update(started_at=timezone.now() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        services.file_rescan(actor=_actor(maintainer, version), file_id=artifact.pk)

    result = graphql_client_for(maintainer)(SCAN_REPORTS, {"versionId": global_id(version)})

    assert [edge["node"]["trigger"] for edge in result.data["scanReports"]["edges"]] == [
        "RESCAN", "UPLOAD"
    ]


def _actor(user, version):
    from accounts.selectors import actor_for

    return actor_for(user=user, tenant=version.model.tenant)


def _node_queries(report: ScanReport) -> str:
    finding = report.findings.first()
    return (f'{{ report: node(id: "{global_id(report)}") {{ id }} '
            f'finding: node(id: "{global_id(finding)}") {{ id }} }}')


def test_another_tenant_sees_no_reports(scanned, version):
    outsider, other_tenant = UserFactory(), TenantFactory()
    MembershipFactory(user=outsider, tenant=other_tenant, role=Role.ADMIN)
    report = scanned[1].scan_reports.get()
    client = graphql_client_for(outsider)
    headers = {"X-Registry-Tenant": other_tenant.slug}

    listed = client(SCAN_REPORTS, {"versionId": global_id(version)}, **headers)
    nodes = client(_node_queries(report), **headers)

    assert listed.data["scanReports"] == {"totalCount": 0, "edges": []}
    assert nodes.data == {"report": None, "finding": None}


def test_a_member_who_cannot_see_the_private_model_sees_no_reports(scanned, version,
                                                                   member_factory):
    colleague = member_factory(Role.MAINTAINER)
    report = scanned[1].scan_reports.get()
    client = graphql_client_for(colleague)

    listed = client(SCAN_REPORTS, {"versionId": global_id(version)})
    nodes = client(_node_queries(report))

    assert listed.data["scanReports"] == {"totalCount": 0, "edges": []}
    assert nodes.data == {"report": None, "finding": None}


def test_the_owner_reaches_reports_and_findings_by_node_id(scanned, maintainer):
    report = scanned[1].scan_reports.get()

    nodes = graphql_client_for(maintainer)(_node_queries(report))

    assert nodes.data == {"report": {"id": global_id(report)},
                          "finding": {"id": global_id(report.findings.first())}}


def test_an_id_that_is_not_a_version_lists_nothing(scanned, maintainer):
    result = graphql_client_for(maintainer)(SCAN_REPORTS, {"versionId": global_id(scanned[0])})

    assert result.data["scanReports"] == {"totalCount": 0, "edges": []}


def test_nested_reports_cost_a_constant_number_of_queries(upload, version, maintainer):
    def queries_for_version_with(files: int) -> int:
        for index in range(files):
            upload(corpus.reduce_pickle(os.system, "id", protocol=2), f"{files}-{index}.pkl")
        client = graphql_client_for(maintainer)
        with CaptureQueriesContext(connection) as captured:
            client(NESTED, {"id": global_id(version)})
        return len(captured.captured_queries)

    assert queries_for_version_with(1) == queries_for_version_with(5)


def test_scanning_error_codes_are_listed(gql):
    codes = {entry["code"] for entry in gql("{ errorCodes { code } }").data["errorCodes"]}

    assert {"not_flagged", "invalid_reason", "invalid_rescan_target"} <= codes


def test_reports_of_a_version_returned_by_a_mutation(scanned, version, maintainer):
    result = graphql_client_for(maintainer)(
        """mutation($id: ID!) { setVersionState(data: {versionId: $id, state: ARCHIVED}) {
             ... on ModelVersion { scanReports { file { path } verdict } } } }""",
        {"id": global_id(version)},
    )

    assert result.data["setVersionState"] == {"scanReports": [
        {"file": {"path": "README.md"}, "verdict": "CLEAN"},
        {"file": {"path": "weights/checkpoint.pt"}, "verdict": "FLAGGED"},
    ]}
