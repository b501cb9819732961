"""Scan reports in the admin console; the rescan and release actions on files."""

import os
from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from registry.models import ScanStatus, UploadSession, UploadState
from registry.urls_public import file_download_url
from scanning.models import ScanRelease, ScanTrigger
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.scanning import corpus

pytestmark = pytest.mark.django_db

FILES = reverse("admin:registry_artifactfile_changelist")
REPORTS = reverse("admin:scanning_scanreport_changelist")


@pytest.fixture
def superuser_client(client, default_tenant):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw-123456"))
    return client


@pytest.fixture
def flagged(upload):
    artifact = upload(corpus.reduce_pickle(os.system, "echo pwned", protocol=2), "evil.pkl")
    artifact.refresh_from_db()
    return artifact


@pytest.fixture
def clean(upload):
    return upload(corpus.TEXT, "README.md")


def test_reports_are_listed_and_filtered_by_verdict_and_severity(superuser_client, flagged,
                                                                 clean):
    flagged_critical = superuser_client.get(REPORTS, {"verdict__exact": "flagged",
                                                      "findings__severity__exact": "critical"})
    clean_only = superuser_client.get(REPORTS, {"verdict__exact": "clean"})

    assert "evil.pkl" in flagged_critical.content.decode()
    assert "README.md" not in flagged_critical.content.decode()
    assert "1 scan report" in flagged_critical.content.decode()
    assert "README.md" in clean_only.content.decode()
    assert "evil.pkl" not in clean_only.content.decode()


def test_a_report_shows_its_findings(superuser_client, flagged):
    report = flagged.scan_reports.get()
    finding = report.findings.filter(severity="critical").first()

    page = superuser_client.get(
        reverse("admin:scanning_scanreport_change", args=[report.pk])
    ).content.decode()

    assert finding.code in page
    assert "Save" not in page  # evidence is read-only


def test_a_file_shows_its_reports(superuser_client, flagged):
    page = superuser_client.get(
        reverse("admin:registry_artifactfile_change", args=[flagged.pk])
    ).content.decode()

    assert "Scan reports" in page
    assert "pickle" in page
    assert flagged.scan_reports.get().scanner_version in page


def test_rescan_action(superuser_client, clean, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(FILES, {"action": "rescan_files",
                                                 ACTION_CHECKBOX_NAME: [clean.pk]}, follow=True)

    assert "1 file(s) queued for a scan." in response.content.decode()
    assert clean.scan_reports.first().trigger == ScanTrigger.RESCAN


def test_release_action_asks_for_a_reason_then_releases(superuser_client, flagged):
    form = superuser_client.post(FILES, {"action": "release_files",
                                         ACTION_CHECKBOX_NAME: [flagged.pk]})
    released = superuser_client.post(FILES, {"action": "release_files", "apply": "Release",
                                             "reason": "Vetted by the security team",
                                             ACTION_CHECKBOX_NAME: [flagged.pk]}, follow=True)

    assert 'name="reason"' in form.content.decode()
    assert "1 file(s) released." in released.content.decode()
    flagged.refresh_from_db()
    assert (flagged.scan_status, flagged.release_reason) == (ScanStatus.RELEASED,
                                                             "Vetted by the security team")
    assert ScanRelease.objects.get().released_by.username == "root"


def test_release_action_refuses_files_that_are_not_flagged(superuser_client, clean):
    response = superuser_client.post(FILES, {"action": "release_files", "apply": "Release",
                                             "reason": "why not",
                                             ACTION_CHECKBOX_NAME: [clean.pk]}, follow=True)

    assert "README.md: The file&#x27;s scan status is clean, not flagged." in (
        response.content.decode())
    assert ScanRelease.objects.count() == 0


def test_another_tenants_admin_sees_no_reports(flagged):
    other_admin = UserFactory(is_staff=True)
    other_tenant = TenantFactory()
    MembershipFactory(user=other_admin, tenant=other_tenant, role=Role.ADMIN)
    client = Client(headers={"X-Registry-Tenant": other_tenant.slug})
    client.force_login(other_admin)

    page = client.get(REPORTS).content.decode()

    assert "0 scan reports" in page
    assert "evil.pkl" not in page


# --- Fields only services write: the admin's forms cannot change them --------------------

def admin_client_of(user, tenant) -> Client:
    client = Client(headers={"X-Registry-Tenant": tenant.slug})
    client.force_login(user)
    return client


@pytest.fixture(params=["superuser", "tenant admin"])
def console(request, superuser_client, tenant_admin, default_tenant) -> Client:
    if request.param == "superuser":
        return superuser_client
    tenant_admin.is_staff = True
    tenant_admin.save(update_fields=["is_staff"])
    return admin_client_of(tenant_admin, default_tenant)


def snapshot(row) -> dict:
    row.refresh_from_db()
    return {field.attname: getattr(row, field.attname) for field in row._meta.concrete_fields}


def test_a_flagged_file_cannot_be_switched_to_clean_in_the_admin(console, flagged, client,
                                                                 maintainer):
    change_url = reverse("admin:registry_artifactfile_change", args=[flagged.pk])
    before = snapshot(flagged)

    page = console.get(change_url)
    posted = console.post(change_url, {
        "scan_status": ScanStatus.CLEAN, "released_by": "", "release_reason": "bypass",
        "sha256": "0" * 64, "size": 1, "path": "renamed.pkl", "content_type": "text/plain",
        "blob": "", "_save": "Save",
    })

    assert page.status_code == 200
    assert 'name="scan_status"' not in page.content.decode()  # shown, not a form field
    assert posted.status_code == 403
    assert snapshot(flagged) == before
    assert ScanRelease.objects.count() == 0
    client.force_login(maintainer)
    assert client.get(file_download_url(flagged)).status_code == 404


def test_blobs_and_upload_sessions_cannot_be_edited_in_the_admin(console, flagged,
                                                                 default_tenant, maintainer):
    session = UploadSession.objects.create(
        tenant=default_tenant, model_version=flagged.model_version, path="big.bin",
        size=10 * 1024 * 1024, sha256="a" * 64, part_count=2, part_size=5 * 1024 * 1024,
        staging_key="staging/x", state=UploadState.OPEN, created_by=maintainer,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    edits = [
        (flagged.blob, "blob", {"sha256": "0" * 64, "size": 1, "storage_key": "elsewhere",
                                "integrity_error": ""}),
        (session, "uploadsession", {"state": UploadState.COMPLETED, "size": 1,
                                    "sha256": "0" * 64, "staging_key": "elsewhere"}),
    ]
    for row, name, data in edits:
        before = snapshot(row)
        posted = console.post(reverse(f"admin:registry_{name}_change", args=[row.pk]),
                              {**data, "_save": "Save"})

        assert (name, posted.status_code) == (name, 403)
        assert snapshot(row) == before


def test_a_version_string_is_not_edited_in_the_admin(superuser_client, flagged):
    version = flagged.model_version
    change_url = reverse("admin:registry_modelversion_change", args=[version.pk])
    before = version.version

    page = superuser_client.get(change_url).content.decode()

    assert 'name="version"' not in page
    assert before in page
