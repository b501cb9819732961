"""Who reads the trail (GraphQL, export, admin), and how entries leave it (retention only)."""

import json
from datetime import timedelta

import pytest
from django.db.models import QuerySet
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from audit import services
from audit.models import AuditEntry
from audit.tasks import purge_audit_entries_task
from registry.models import Visibility
from tests.conftest import graphql_client_for
from tests.factories import MembershipFactory, RegisteredModelFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db

AUDIT_LOG = """query($action: String) { auditLog(action: $action) {
  totalCount edges { node { action objectKind objectName actorName changes } } } }"""


@pytest.fixture
def world(member_factory, default_tenant):
    admin = member_factory(Role.ADMIN, username="ada")
    viewer = member_factory(Role.VIEWER, username="vic")
    private = RegisteredModelFactory(tenant=default_tenant, name="secret",
                                     visibility=Visibility.PRIVATE)
    public = RegisteredModelFactory(tenant=default_tenant, name="open")
    for model in (private, public):
        services.record(action="update", obj=model, system="test",
                        changes={"description": ["", "x"]})
    services.record(action="member.role", obj=viewer, system="test", tenant=default_tenant)
    other = TenantFactory(slug="other")
    other_admin = UserFactory(username="otto")
    MembershipFactory(user=other_admin, tenant=other, role=Role.ADMIN)
    services.record(action="update", obj=RegisteredModelFactory(tenant=other, name="theirs"),
                    system="test")
    return {"admin": admin, "viewer": viewer, "other_admin": other_admin}


def names_seen(user) -> list[tuple[str, str]]:
    data = graphql_client_for(user)(AUDIT_LOG).data["auditLog"]
    assert data["totalCount"] == len(data["edges"])
    return [(edge["node"]["action"], edge["node"]["objectName"]) for edge in data["edges"]]


def test_the_tenant_admin_sees_the_tenant_and_nothing_of_another(world):
    assert names_seen(world["admin"]) == [
        ("member.role", "vic"), ("update", "open"), ("update", "secret")]
    assert names_seen(world["other_admin"]) == [("update", "theirs")]


def test_a_viewer_sees_only_entries_about_what_they_may_see(world):
    assert names_seen(world["viewer"]) == [("update", "open")]


def test_the_superuser_sees_every_tenant(world):
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True)

    # Logging in (force_login sends user_logged_in) is on record too, outside any tenant.
    assert names_seen(superuser) == [("login", "root"), ("update", "theirs"),
                                     ("member.role", "vic"), ("update", "open"),
                                     ("update", "secret")]


def test_filters_and_entry_fields(world):
    data = graphql_client_for(world["admin"])(AUDIT_LOG, {"action": "update"}).data
    assert data["auditLog"]["edges"][0]["node"] == {
        "action": "update", "objectKind": "RegisteredModel", "objectName": "open",
        "actorName": "test", "changes": {"description": ["", "x"]}}


def test_the_export_bodies(world, default_tenant):
    client = Client()
    client.force_login(world["admin"])
    entry = AuditEntry.objects.get(object_name="open")
    stamp = entry.created_at.isoformat()

    csv_body = b"".join(client.get(reverse("audit:export-csv"),
                                   {"action": "update", "objectId": str(entry.object_id)}
                                   ).streaming_content).decode()
    json_response = client.get(reverse("audit:export-json"), {"objectKind": "RegisteredModel",
                                                               "objectId": entry.object_id})

    assert csv_body == (
        "created_at,tenant_slug,actor_kind,actor_name,action,object_kind,object_id,object_name,"
        "changes,request_id,client_address\r\n"
        f'{stamp},{default_tenant.slug},system,test,update,RegisteredModel,{entry.object_id},'
        'open,"{""description"": ["""", ""x""]}",,\r\n')
    assert json.loads(b"".join(json_response.streaming_content)) == [{
        "action": "update", "actor_kind": "system", "actor_name": "test",
        "changes": {"description": ["", "x"]}, "client_address": None,
        "created_at": stamp, "object_id": entry.object_id, "object_kind": "RegisteredModel",
        "object_name": "open", "request_id": "", "tenant_slug": default_tenant.slug}]
    assert json_response["Content-Type"] == "application/json"


def test_the_export_refuses_a_bad_time_and_shows_anonymous_callers_nothing(world):
    admin = Client()
    admin.force_login(world["admin"])

    bad = admin.get(reverse("audit:export-json"), {"since": "yesterday"})
    anonymous = Client().get(reverse("audit:export-json"))

    assert (bad.status_code, bad.content) == (400, b"since: give an ISO 8601 date and time.")
    assert (anonymous.status_code, b"".join(anonymous.streaming_content)) == (200, b"[]")


def test_the_admin_is_read_only_even_for_the_superuser(world):
    superuser = UserFactory(username="root", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(superuser)
    entry = AuditEntry.objects.first()

    listing = client.get(reverse("admin:audit_auditentry_changelist"))
    view = client.get(reverse("admin:audit_auditentry_change", args=[entry.pk]))
    add = client.get(reverse("admin:audit_auditentry_add"))
    change = client.post(reverse("admin:audit_auditentry_change", args=[entry.pk]),
                         {"action": "forged"})
    delete = client.post(reverse("admin:audit_auditentry_delete", args=[entry.pk]),
                         {"post": "yes"})

    assert (listing.status_code, view.status_code) == (200, 200)
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert AuditEntry.objects.filter(pk=entry.pk, action=entry.action).exists() is True


def test_entries_cannot_be_changed_or_deleted_in_code(world):
    entry = AuditEntry.objects.first()

    with pytest.raises(TypeError, match="append-only"):
        entry.save()
    with pytest.raises(TypeError, match="retention"):
        entry.delete()
    with pytest.raises(TypeError, match="append-only"):
        AuditEntry.objects.update(action="forged")


def test_retention_purges_only_older_entries(world, settings):
    settings.AUDIT_RETENTION_DAYS = 30
    # Age two rows behind the trail's back: its own manager refuses updates.
    QuerySet(AuditEntry).filter(object_name__in=["open", "theirs"]).update(
        created_at=timezone.now() - timedelta(days=31))

    assert purge_audit_entries_task() == 2
    assert sorted(AuditEntry.objects.values_list("object_name", flat=True)) == ["secret", "vic"]
