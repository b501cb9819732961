"""The webhook API: tenant admins (and the superuser) create, change, rotate, test and delete
webhooks and read their deliveries; anyone else is refused with an exact code."""

import pytest
from strawberry.relay import to_base64

from accounts import services as account_services
from accounts.models import Role, User
from accounts.selectors import actor_for
from tests.accounts.conftest import bearer, login
from tests.conftest import GraphQLClient, graphql_client_for
from tests.factories import TenantFactory, UserFactory
from tests.webhooks.conftest import verify
from webhooks.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/registry"
MESSAGES = "... on OperationInfo { messages { kind code field message } }"
CREATE = """mutation($data: CreateWebhookInput!) { createWebhook(data: $data) {
  __typename ... on NewWebhookSecret { secret webhook { id url events active description
    createdBy { username } } } """ + MESSAGES + " } }"
UPDATE = """mutation($data: UpdateWebhookInput!) { updateWebhook(data: $data) {
  __typename ... on Webhook { id url events active description } """ + MESSAGES + " } }"
ROTATE = """mutation($id: ID!) { rotateWebhookSecret(id: $id) {
  __typename ... on NewWebhookSecret { secret } """ + MESSAGES + " } }"
DELETE = """mutation($id: ID!) { deleteWebhook(id: $id) {
  __typename ... on Deletion { deletedId } """ + MESSAGES + " } }"
TEST = """mutation($id: ID!) { testWebhook(id: $id) {
  __typename ... on WebhookDelivery { event status } """ + MESSAGES + " } }"
LIST = "{ webhooks { totalCount edges { node { id url } } } }"
DELIVERIES = """query($id: ID!, $first: Int, $after: String) {
  webhookDeliveries(webhookId: $id, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { event status attempts responseStatus uid payload webhook { url } } } } }"""
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


def gid(obj) -> str:
    return to_base64(type(obj).__name__, obj.pk)


def message(code: str, field: str | None = None, kind: str = "VALIDATION",
            text: str = "Not found.") -> dict:
    return {"__typename": "OperationInfo",
            "messages": [{"kind": kind, "code": code, "field": field, "message": text}]}


@pytest.fixture
def admin_gql(tenant_admin) -> GraphQLClient:
    return graphql_client_for(tenant_admin)


def create(client, **data) -> dict:
    return client(CREATE, {"data": {"url": URL, "events": ["MODEL_CREATED"], **data}}
                  ).data["createWebhook"]


def test_create_shows_the_secret_once(admin_gql):
    created = create(admin_gql, events=["MODEL_CREATED", "FILE_SCANNED", "MODEL_CREATED"],
                     description="CI")

    webhook = Webhook.objects.get()
    assert created == {"__typename": "NewWebhookSecret", "secret": webhook.secret, "webhook": {
        "id": gid(webhook), "url": URL, "events": ["FILE_SCANNED", "MODEL_CREATED"],
        "active": True, "description": "CI", "createdBy": {"username": "hook-admin"}}}
    assert webhook.secret.startswith("whsec_") and len(webhook.secret) > 40
    assert (webhook.events, webhook.tenant.slug) == (["file.scanned", "model.created"],
                                                     "default")
    # No query answers it again.
    assert "secret" not in {field["name"] for field in admin_gql(
        '{ __type(name: "Webhook") { fields { name } } }').data["__type"]["fields"]}


@pytest.mark.parametrize(("url", "text"), [
    ("ftp://hooks.example.com/", "Give an absolute http or https URL."),
    ("/relative", "Give an absolute http or https URL."),
    ("http://hooks.example.com/", "Webhook URLs must use https."),
    ("https://user:pw@hooks.example.com/", "A webhook URL cannot carry credentials."),
    ("https://10.1.2.3/hook", "10.1.2.3 is or resolves to a non-public address (10.1.2.3)."),
    ("https://[::1]/hook", "::1 is or resolves to a non-public address (::1)."),
    ("https://169.254.169.254/", "169.254.169.254 is or resolves to a non-public address "
                                 "(169.254.169.254)."),
    ("https://hooks.example.com/" + "a" * 2000, "At most 2000 characters."),
])
def test_create_refuses_a_bad_url(admin_gql, settings, url, text):
    settings.WEBHOOK_REQUIRE_HTTPS = True

    assert create(admin_gql, url=url) == message("invalid_url", "url", text=text)
    assert Webhook.objects.count() == 0


def test_http_is_accepted_where_https_is_not_required(admin_gql, settings):
    settings.WEBHOOK_REQUIRE_HTTPS = False

    assert create(admin_gql, url="http://hooks.example.com/")["__typename"] == (
        "NewWebhookSecret")


def test_create_refuses_no_events_and_a_long_description(admin_gql):
    assert create(admin_gql, events=[]) == message("invalid_events", "events",
                                                   text="Subscribe to at least one event.")
    assert create(admin_gql, description="d" * 201) == message(
        "invalid_description", "description", text="At most 200 characters.")
    assert Webhook.objects.count() == 0


def test_a_tenant_has_a_limited_number_of_webhooks(admin_gql, settings):
    settings.WEBHOOK_MAX_PER_TENANT = 2
    create(admin_gql)
    create(admin_gql)

    assert create(admin_gql) == message("webhook_limit",
                                        text="A tenant has at most 2 webhooks.")
    assert Webhook.objects.count() == 2


def test_update_rotate_and_delete(admin_gql):
    webhook_id = create(admin_gql)["webhook"]["id"]
    old_secret = Webhook.objects.get().secret

    updated = admin_gql(UPDATE, {"data": {
        "id": webhook_id, "url": "https://other.example.com/", "events": ["MODEL_DELETED"],
        "active": False}}).data["updateWebhook"]
    rotated = admin_gql(ROTATE, {"id": webhook_id}).data["rotateWebhookSecret"]

    webhook = Webhook.objects.get()
    assert updated == {"__typename": "Webhook", "id": webhook_id,
                       "url": "https://other.example.com/", "events": ["MODEL_DELETED"],
                       "active": False, "description": ""}
    assert rotated == {"__typename": "NewWebhookSecret", "secret": webhook.secret}
    assert webhook.secret != old_secret
    assert admin_gql(UPDATE, {"data": {"id": webhook_id, "url": "nope"}}).data[
        "updateWebhook"] == message("invalid_url", "url",
                                    text="Give an absolute http or https URL.")
    assert admin_gql(DELETE, {"id": webhook_id}).data["deleteWebhook"] == {
        "__typename": "Deletion", "deletedId": webhook_id}
    assert Webhook.objects.count() == 0


def test_the_test_mutation_pings_the_receiver(receiver, admin_gql,
                                              django_capture_on_commit_callbacks):
    webhook_id = create(admin_gql, url=receiver.url())["webhook"]["id"]

    with django_capture_on_commit_callbacks(execute=True):
        queued = admin_gql(TEST, {"id": webhook_id}).data["testWebhook"]

    delivery = WebhookDelivery.objects.get()
    [request] = receiver.requests
    assert queued == {"__typename": "WebhookDelivery", "event": "ping", "status": "PENDING"}
    assert request.headers["X-Registry-Event"] == "ping"
    assert verify(Webhook.objects.get().secret, request.headers, request.body) is True
    assert delivery.payload["data"] == {"webhook": webhook_id}
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    # The id of the request that asked, sent along.
    assert request.headers["X-Request-ID"] == delivery.request_id != ""


def test_an_inactive_webhook_cannot_be_tested(admin_gql):
    webhook_id = create(admin_gql, active=False)["webhook"]["id"]

    assert admin_gql(TEST, {"id": webhook_id}).data["testWebhook"] == message(
        "webhook_inactive", "id", text="The webhook is inactive.")
    assert WebhookDelivery.objects.count() == 0


def test_deliveries_are_paginated_newest_first(admin_gql):
    webhook_id = create(admin_gql)["webhook"]["id"]
    webhook = Webhook.objects.get()
    for event in ["model.created", "model.deleted", "ping"]:
        WebhookDelivery.objects.create(webhook=webhook, event=event, payload={"e": event})

    first = admin_gql(DELIVERIES, {"id": webhook_id, "first": 2}).data["webhookDeliveries"]
    rest = admin_gql(DELIVERIES, {"id": webhook_id, "first": 2,
                                  "after": first["pageInfo"]["endCursor"]}
                     ).data["webhookDeliveries"]

    assert first["totalCount"] == 3
    assert [edge["node"]["event"] for edge in first["edges"]] == ["ping", "model.deleted"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [edge["node"] for edge in rest["edges"]] == [{
        "event": "model.created", "status": "PENDING", "attempts": 0, "responseStatus": None,
        "uid": str(WebhookDelivery.objects.get(event="model.created").uid),
        "payload": {"e": "model.created"}, "webhook": {"url": URL}}]
    assert rest["pageInfo"]["hasNextPage"] is False


# --- Who may -------------------------------------------------------------------------------

CALLERS = ["anonymous", "viewer", "maintainer", "read_token", "write_token", "tenant_admin",
           "superuser", "other_tenant_admin"]
DENIED = message("permission_denied", kind="PERMISSION", text="Only tenant admins may do this.")
READ_ONLY = message("read_only_token", kind="PERMISSION",
                    text="This token's scopes do not allow changes.")
NOT_FOUND = message("not_found", "id")
OK = "ok"
# caller:              create  update  rotate  test  delete      webhooks/deliveries/node seen
EXPECTED = {
    "anonymous":          (DENIED, DENIED, DENIED, DENIED, DENIED, False),
    "viewer":             (DENIED, DENIED, DENIED, DENIED, DENIED, False),
    "maintainer":         (DENIED, DENIED, DENIED, DENIED, DENIED, False),
    "read_token":         (READ_ONLY, READ_ONLY, READ_ONLY, READ_ONLY, READ_ONLY, False),
    "write_token":        (READ_ONLY, READ_ONLY, READ_ONLY, READ_ONLY, READ_ONLY, False),
    "tenant_admin":       (OK, OK, OK, OK, OK, True),
    "superuser":          (OK, OK, OK, OK, OK, True),
    "other_tenant_admin": (OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND, False),
}


def client_of(caller: str, tenant_admin, member_factory) -> GraphQLClient:
    if caller == "anonymous":
        return graphql_client_for(None)
    if caller in ("viewer", "maintainer"):
        return graphql_client_for(member_factory(Role(caller)))
    if caller in ("read_token", "write_token"):
        _, secret = account_services.api_token_create(
            actor=actor_for(user=tenant_admin, tenant=tenant_admin.memberships.get().tenant),
            name="ci", scopes=[caller.split("_")[0]])
        return bearer(secret)
    if caller == "superuser":
        return graphql_client_for(User.objects.create_superuser("root", password="pw-123456"))
    if caller == "other_tenant_admin":
        elsewhere = TenantFactory(slug="elsewhere")
        user = UserFactory(username="elsewhere-admin")
        user.memberships.create(tenant=elsewhere, role=Role.ADMIN)
        return bearer(login(user.username, tenant="elsewhere")["accessToken"])
    return graphql_client_for(tenant_admin)


@pytest.mark.parametrize("caller", CALLERS)
def test_who_may_manage_and_see_webhooks(caller, tenant_admin, member_factory,
                                         django_capture_on_commit_callbacks):
    owner = graphql_client_for(tenant_admin)
    webhook_id = create(owner)["webhook"]["id"]
    WebhookDelivery.objects.create(webhook=Webhook.objects.get(), event="ping", payload={})
    before = list(Webhook.objects.values()), list(WebhookDelivery.objects.values())
    client = client_of(caller, tenant_admin, member_factory)
    *mutations, sees = EXPECTED[caller]

    lists = client(LIST).data["webhooks"]["totalCount"]
    deliveries = client(DELIVERIES, {"id": webhook_id}).data["webhookDeliveries"]["totalCount"]
    node = client(NODE, {"id": webhook_id}).data["node"]
    outcomes = []
    with django_capture_on_commit_callbacks(execute=False):  # no delivery is attempted
        for query, variables in [
            (CREATE, {"data": {"url": URL, "events": ["MODEL_CREATED"]}}),
            (UPDATE, {"data": {"id": webhook_id, "description": "changed"}}),
            (ROTATE, {"id": webhook_id}),
            (TEST, {"id": webhook_id}),
            (DELETE, {"id": webhook_id}),
        ]:
            payload = next(iter(client(query, variables).data.values()))
            outcomes.append(OK if payload["__typename"] != "OperationInfo" else payload)

    assert outcomes == list(mutations)
    assert (lists, deliveries, node is not None) == ((1, 1, True) if sees else (0, 0, False))
    if all(outcome != OK for outcome in outcomes):
        assert (list(Webhook.objects.values()), list(WebhookDelivery.objects.values())) == before
