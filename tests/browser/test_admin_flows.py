"""The admin console's key flows in a real browser, as the superuser and as a tenant admin:
assertions on the page and on the database."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Tenant
from registry import selectors
from registry.models import ArtifactFile, ScanStatus
from scanning.models import ScanRelease, ScanReport
from tests.accounts.world import build_world
from tests.browser.conftest import PASSWORD, log_in
from tests.factories import artifact_file
from usage.models import DailyUsage

User = get_user_model()
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def alpha(default_tenant):
    """alpha's world (two clean files, an open upload), a flagged file with its finished
    report, 5 downloads over two days; its admin has staff status."""
    world = build_world("alpha")
    Tenant.objects.filter(pk=world.tenant.pk).update(quota_bytes=10 * 1024, quota_files=8)
    world.admin.is_staff = True
    world.admin.save()
    world.flagged = artifact_file(world.model_version, path="evil.pkl", content=b"x" * 2048,
                                  scan_status=ScanStatus.FLAGGED)
    now = timezone.now()
    world.report = ScanReport.objects.create(
        file=world.flagged, trigger="upload", scanner="pickle", scanner_version="1",
        verdict="flagged", started_at=now, finished_at=now, duration_seconds=0.1)
    today = timezone.localdate()
    DailyUsage.objects.create(tenant=world.file.tenant, file=world.file, day=today,
                              caller="anonymous", pulls=3)
    DailyUsage.objects.create(tenant=world.file.tenant, file=world.file,
                              day=today - timedelta(days=1), caller="anonymous", pulls=2)
    return world


@pytest.fixture(params=["tenant admin", "superuser"])
def operator(request, alpha, page):
    """Logged in, working in alpha (the superuser chooses it with the tenants' action)."""
    if request.param == "tenant admin":
        log_in(page, alpha.admin.username)  # a single tenant's admin starts in it
        return alpha.admin
    root = User.objects.create_superuser("root", password=PASSWORD)
    log_in(page, "root")
    page.goto("/admin/accounts/tenant/")
    page.check(f"input[name=_selected_action][value='{alpha.tenant.pk}']")
    page.select_option("select[name=action]", "work_in_tenant")
    page.click("button[name=index]")
    assert "You now work in alpha-corp." in page.inner_text(".messagelist")
    return root


def figure(page, tenant: str, name: str) -> str:
    return page.inner_text(f"[data-tenant='{tenant}'] [data-figure='{name}'] strong")


def test_the_dashboard_shows_the_tenants_numbers(operator, alpha, page):
    page.goto("/admin/")

    assert figure(page, "alpha-corp", "storage") == "2.0\xa0KB of 10.0\xa0KB"
    assert figure(page, "alpha-corp", "files") == "3 of 8"
    assert figure(page, "alpha-corp", "open-uploads") == "1"
    assert page.inner_text("[data-tenant='alpha-corp'] [data-scan-status='flagged']") == (
        "Flagged 1")
    today = page.locator(f"[data-tenant='alpha-corp'] [data-day='{timezone.localdate()}']")
    assert (today.get_attribute("data-pushed"), today.get_attribute("data-pulled")) == ("3", "3")
    assert page.locator("[data-tenant='alpha-corp'] .recent-flagged td").all_inner_texts() == [
        "evil.pkl", "alpha-detector 2.0.0", f"{alpha.flagged.created_at:%Y-%m-%d %H:%M}"]
    expected = ["alpha-corp"] if operator == alpha.admin else ["default", "alpha-corp"]
    assert page.locator("[data-tenant]").evaluate_all(
        "panels => panels.map(panel => panel.dataset.tenant)") == expected


def test_changing_the_scan_policy_on_the_tenant_page_is_stored(operator, alpha, page):
    page.goto(f"/admin/accounts/tenant/{alpha.tenant.pk}/change/")
    assert page.input_value("input[name=memberships-0-user]") == "alpha-admin"

    page.select_option("#id_scan_policy", "warn")
    page.click("input[name=_save]")

    assert "was changed successfully" in page.inner_text(".messagelist")
    tenant = Tenant.objects.get(pk=alpha.tenant.pk)
    assert tenant.scan_policy == "warn"
    assert sorted(tenant.memberships.values_list("user__username", "role")) == [
        ("alpha-admin", "admin"), ("alpha-member", "maintainer")]


def test_sharing_a_model_with_a_member(operator, alpha, page):
    page.goto(f"/admin/registry/registeredmodel/{alpha.model.pk}/permissions/")
    page.fill("input[name=user]", "alpha-member")
    page.click("input[name=submit_manage_user]")
    page.select_option("select[name=permission]", "change")
    page.click("#submit")

    assert [(grant.user, grant.level) for grant in
            selectors.catalog_entry_grants(alpha.model)] == [(alpha.member, "change")]


def test_releasing_a_flagged_file_with_a_reason(operator, alpha, page):
    page.goto("/admin/registry/artifactfile/?scan_status__exact=flagged")
    page.check(f"input[name=_selected_action][value='{alpha.flagged.pk}']")
    page.select_option("select[name=action]", "release_files")
    page.click("button[name=index]")
    page.fill("#id_reason", "Our own loader's pickle, reviewed.")
    page.click("input[name=apply]")

    assert "1 file(s) released." in page.inner_text(".messagelist")
    release = ScanRelease.objects.get(file=alpha.flagged)
    assert (release.released_by, release.reason, release.report) == (
        operator, "Our own loader's pickle, reviewed.", alpha.report)
    assert ArtifactFile.objects.get(pk=alpha.flagged.pk).scan_status == ScanStatus.RELEASED


def test_downloading_from_the_version_page(operator, alpha, page):
    page.goto(f"/admin/registry/modelversion/{alpha.model_version.pk}/change/")
    row = page.locator("tr", has=page.locator("td.field-path", has_text="model.onnx"))
    # Fetched with the browser's session rather than clicked: on S3 the link redirects to a
    # presigned URL of another origin, where browsers ignore the `download` attribute.
    response = page.request.get(row.locator("td.field-download a").get_attribute("href"))

    assert (response.status, response.body()) == (200, b"alpha weights")
    flagged_row = page.locator("tr", has=page.locator("td.field-path", has_text="evil.pkl"))
    assert flagged_row.locator("td.field-download").inner_text() == "quarantined"
    assert DailyUsage.objects.filter(file=alpha.file, day=timezone.localdate()).aggregate(
        pulls=Sum("pulls"))["pulls"] == 4


def test_the_scan_status_cannot_be_changed_in_the_console(operator, alpha, page):
    """No editable scan status, and a forged post of the change form changes nothing."""
    url = f"/admin/registry/artifactfile/{alpha.flagged.pk}/change/"
    page.goto(url)
    assert page.locator("[name=scan_status]").count() == 0
    assert page.locator("input[name=_save]").count() == 0
    assert page.inner_text(".field-scan_status .readonly") == "Flagged"
    csrf = next(cookie["value"] for cookie in page.context.cookies()
                if cookie["name"] == "csrftoken")

    response = page.request.post(url, form={
        "csrfmiddlewaretoken": csrf, "scan_status": "clean", "path": "evil.pkl",
        "_save": "Save"}, headers={"Referer": page.url})

    assert response.status == 403
    stored = ArtifactFile.objects.get(pk=alpha.flagged.pk)
    assert (stored.scan_status, ScanRelease.objects.count()) == (ScanStatus.FLAGGED, 0)
    assert page.request.get(f"/files/{alpha.flagged.pk}/download").status == 404


def test_graphiql_runs_a_query_without_internet(operator, page):
    page.goto("/graphql/")
    page.wait_for_selector(".graphiql-editors")

    assert "Loading..." not in page.inner_text("#graphiql")
    assert page.outside_requests == []
    answer = page.evaluate("""async () => (await fetch('/graphql/', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({query: '{ viewer { tenant { slug } } }'})})).json()""")
    assert answer == {"data": {"viewer": {"tenant": {"slug": "alpha-corp"}}}}


def test_the_landing_page_links_everywhere(page):
    page.goto("/")

    assert [re.sub(r"\s+", " ", text) for text in page.locator("a").all_inner_texts()] == [
        "Admin console", "GraphQL API", "Health"]
