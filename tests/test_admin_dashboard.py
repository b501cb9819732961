"""The admin console's index: a dashboard per tenant the user administers."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.models import Tenant
from registry.models import ScanStatus
from tests.accounts.world import build_world
from tests.factories import artifact_file
from usage.models import DailyUsage

User = get_user_model()


@pytest.fixture
def worlds(db, default_tenant):
    """alpha: two clean files (13 and 12 bytes, from the world), a flagged and a pending one,
    an open 10-byte upload, 5 downloads over two days; bravo: only the world's files."""
    alpha, bravo = build_world("alpha"), build_world("bravo")
    Tenant.objects.filter(pk=alpha.tenant.pk).update(quota_bytes=10 * 1024, quota_files=8)
    artifact_file(alpha.model_version, path="evil.pkl", content=b"x" * 2048,
                  scan_status=ScanStatus.FLAGGED)
    artifact_file(alpha.model_version, path="new.onnx", content=b"fresh",
                  scan_status=ScanStatus.PENDING)
    today = timezone.localdate()
    DailyUsage.objects.create(tenant=alpha.file.tenant, file=alpha.file, day=today,
                              caller="anonymous", pulls=3)
    DailyUsage.objects.create(tenant=alpha.file.tenant, file=alpha.file,
                              day=today - timedelta(days=1), caller="anonymous", pulls=2)
    DailyUsage.objects.create(tenant=bravo.file.tenant, file=bravo.file, day=today,
                              caller="anonymous", pulls=7)
    return alpha, bravo


def dashboard_of(user) -> str:
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 200
    return response.content.decode()


def panels(page: str) -> dict[str, str]:
    """Each tenant panel's HTML by tenant slug (the app list after them cut off)."""
    page = page.split('<div class="app-')[0]
    parts = re.split(r'<div class="module tenant-panel" data-tenant="([^"]+)">', page)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def figure(panel: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">.*?<strong>(.*?)</strong>', panel, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def days(panel: str) -> list[tuple[str, int, int]]:
    return [(day, int(pushed), int(pulled)) for day, pushed, pulled in re.findall(
        r'data-day="([^"]+)" data-pushed="(\d+)" data-pulled="(\d+)"', panel)]


def test_a_tenant_admin_sees_the_numbers_of_their_tenant_only(worlds):
    alpha, bravo = worlds

    page = dashboard_of(alpha.admin)

    by_tenant = panels(page)
    assert list(by_tenant) == ["alpha-corp"]
    panel = by_tenant["alpha-corp"]
    assert figure(panel, "storage") == "2.0\xa0KB of 10.0\xa0KB"  # 2,078 bytes
    assert figure(panel, "files") == "4 of 8"
    assert figure(panel, "pending-scans") == "1"
    assert figure(panel, "open-uploads") == "1"
    assert re.findall(r'data-scan-status="(\w+)"[^>]*>([^<]+)</a>', panel) == [
        ("pending", "Pending scan 1"), ("clean", "Clean 2"), ("flagged", "Flagged 1"),
        ("error", "Scan error 0"), ("released", "Released by an admin 0")]
    today = timezone.localdate()
    chart = days(panel)
    assert len(chart) == 14
    assert chart[-2:] == [((today - timedelta(days=1)).isoformat(), 0, 2),
                          (today.isoformat(), 4, 3)]
    assert sum(pushed for _, pushed, _ in chart[:-2]) == 0
    assert "Last 14 days: 4 files pushed, 5 downloads" in panel
    assert re.findall(r'<a href="(/usage/report\.\w+)">', panel) == [
        "/usage/report.csv", "/usage/report.json"]
    assert re.findall(r'<td><a href="/admin/registry/artifactfile/(\d+)/change/">([^<]+)</a>',
                      panel) == [(str(alpha.model_version.files.get(path="evil.pkl").pk),
                                  "evil.pkl")]
    assert "bravo" not in page


def test_the_superuser_sees_every_tenant(worlds):
    alpha, bravo = worlds

    by_tenant = panels(dashboard_of(User.objects.create_superuser("root", password="x" * 12)))

    assert list(by_tenant) == ["default", "alpha-corp", "bravo-corp"]
    assert figure(by_tenant["bravo-corp"], "files") == "2 of 100000"
    assert days(by_tenant["bravo-corp"])[-1][1:] == (2, 7)
    assert "None." in by_tenant["bravo-corp"]


def test_a_staff_member_who_administers_no_tenant_gets_no_panel(worlds):
    alpha, _ = worlds

    assert panels(dashboard_of(alpha.member)) == {}
