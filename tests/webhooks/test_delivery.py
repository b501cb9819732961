"""Deliveries to a real HTTP receiver on 127.0.0.1: signed, retried after a 500, never
redirected, and never sent to a non-public address."""

import hmac
import json
import socket
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY
from strawberry.relay import to_base64

from registry.models import RegisteredModel
from registry.services import catalog_entry_create
from tests.webhooks.conftest import Answer, verify
from webhooks import services
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db


def deliveries_counted(event: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("registry_webhook_deliveries_total",
                                     {"event": event, "outcome": outcome}) or 0.0


def create_model(actor, capture, name: str = "detector"):
    with capture(execute=True):
        return catalog_entry_create(entry_class=RegisteredModel, actor=actor, name=name)


def test_a_delivery_is_signed_and_verifiable(receiver, webhook_to, admin_actor,
                                             django_capture_on_commit_callbacks):
    webhook = webhook_to(receiver.url(), events=["model.created"])

    model = create_model(admin_actor, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.headers["Host"] == f"127.0.0.1:{receiver.port}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Registry-Event"] == "model.created"
    assert request.headers["X-Registry-Delivery"] == str(delivery.uid)
    assert verify(webhook.secret, request.headers, request.body) is True
    assert verify(webhook.secret, request.headers, request.body + b" ") is False
    assert verify("whsec_other", request.headers, request.body) is False
    assert json.loads(request.body) == {
        "id": str(delivery.uid), "event": "model.created", "tenant": "default",
        "createdAt": delivery.payload["createdAt"],
        "data": {"model": {"id": to_base64("RegisteredModel", model.pk), "name": "detector",
                           "projectName": "", "status": "training", "visibility": "private",
                           "owner": "hook-admin"}},
    }
    assert (delivery.status, delivery.attempts, delivery.response_status,
            delivery.response_excerpt, delivery.error) == (DeliveryStatus.SUCCEEDED, 1, 200,
                                                           "ok", "")
    assert delivery.latency_ms >= 0
    assert delivery.completed_at == delivery.last_attempt_at


def test_the_signature_is_over_the_timestamp_and_the_exact_body():
    body = b'{"event":"ping"}'

    headers = services.http_delivery.signed_headers(
        secret="whsec_k", body=body, event="ping", delivery_uid="d", request_id="r1",
        timestamp=1700000000)

    assert headers["X-Registry-Signature"] == (
        "t=1700000000,v1="
        + hmac.new(b"whsec_k", b'1700000000.{"event":"ping"}', "sha256").hexdigest())
    assert headers["X-Request-ID"] == "r1"


def test_a_500_is_retried_with_the_same_delivery_id_until_it_succeeds(
        receiver, webhook_to, admin_actor, django_capture_on_commit_callbacks):
    webhook = webhook_to(receiver.url(), events=["model.created"])
    receiver.answer(Answer(500, b"down"), Answer(503, b"still down"), Answer(200, b"fine"))
    retried = deliveries_counted("model.created", "retried")
    succeeded = deliveries_counted("model.created", "succeeded")

    create_model(admin_actor, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert len(receiver.requests) == 3
    assert {request.headers["X-Registry-Delivery"] for request in receiver.requests} == {
        str(delivery.uid)}
    assert {request.body for request in receiver.requests} == {receiver.requests[0].body}
    assert all(verify(webhook.secret, r.headers, r.body) for r in receiver.requests)
    assert (delivery.status, delivery.attempts, delivery.response_status,
            delivery.response_excerpt, delivery.error) == (DeliveryStatus.SUCCEEDED, 3, 200,
                                                           "fine", "")
    assert deliveries_counted("model.created", "retried") - retried == 2
    assert deliveries_counted("model.created", "succeeded") - succeeded == 1


def test_a_delivery_gives_up_after_the_last_attempt(receiver, webhook_to, admin_actor,
                                                    django_capture_on_commit_callbacks):
    webhook_to(receiver.url(), events=["model.created"])
    receiver.answer(Answer(500, b"down"))
    failed = deliveries_counted("model.created", "failed")

    create_model(admin_actor, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert len(receiver.requests) == 4  # WEBHOOK_MAX_ATTEMPTS
    assert (delivery.status, delivery.attempts, delivery.response_status,
            delivery.error) == (DeliveryStatus.FAILED, 4, 500, "The receiver answered 500.")
    assert deliveries_counted("model.created", "failed") - failed == 1


def test_a_client_error_is_final(receiver, webhook_to, admin_actor,
                                 django_capture_on_commit_callbacks):
    webhook_to(receiver.url(), events=["model.created"])
    receiver.answer(Answer(404, b"no such hook"))

    create_model(admin_actor, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert len(receiver.requests) == 1
    assert (delivery.status, delivery.attempts, delivery.response_status,
            delivery.response_excerpt) == (DeliveryStatus.FAILED, 1, 404, "no such hook")


def test_redirects_are_not_followed(receiver, webhook_to, admin_actor,
                                    django_capture_on_commit_callbacks):
    webhook_to(receiver.url(), events=["model.created"])
    receiver.answer(Answer(302, b"", {"Location": receiver.url("/elsewhere")}))

    create_model(admin_actor, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert [request.path for request in receiver.requests] == ["/hook"]
    assert (delivery.status, delivery.attempts, delivery.response_status, delivery.error) == (
        DeliveryStatus.FAILED, 1, 302,
        "The receiver redirected (302); redirects are not followed.")


def test_only_the_first_kilobyte_of_the_answer_is_kept(receiver, webhook_to, admin_actor,
                                                       django_capture_on_commit_callbacks):
    webhook_to(receiver.url(), events=["model.created"])
    receiver.answer(Answer(200, b"x" * 5000))

    create_model(admin_actor, django_capture_on_commit_callbacks)

    assert WebhookDelivery.objects.get().response_excerpt == "x" * 1024


def test_a_receiver_that_does_not_answer_in_time_is_retried(
        receiver, webhook_to, admin_actor, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.2
    webhook_to(receiver.url(), events=["model.created"])
    receiver.answer(Answer(200, b"late", delay=1.0), Answer(200, b"on time"))

    create_model(admin_actor, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_excerpt) == (
        DeliveryStatus.SUCCEEDED, 2, "on time")


@pytest.fixture
def no_connections(monkeypatch):
    """Fails the test if any TCP connection is attempted."""
    attempted = []

    def refuse(*args, **kwargs):
        attempted.append(args)
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempted


@pytest.mark.parametrize(("host", "address"), [
    ("10.0.0.1", "10.0.0.1"),
    ("169.254.169.254", "169.254.169.254"),  # cloud metadata
    ("100.100.100.200", "100.100.100.200"),  # shared address space (a metadata service)
    ("[fd00:ec2::254]", "fd00:ec2::254"),
    ("[::ffff:10.0.0.1]", "::ffff:a00:1"),
    ("0.0.0.0", "0.0.0.0"),
    ("127.0.0.1", "127.0.0.1"),  # loopback, not allowed here
    ("localhost", None),  # a name resolving to loopback
])
def test_a_non_public_address_is_refused_without_connecting(
        host, address, receiver, settings, default_tenant, no_connections):
    settings.WEBHOOK_ALLOW_LOOPBACK = False
    # As if accepted before (a URL naming such an address is refused at creation).
    webhook = Webhook.objects.create(tenant=default_tenant, url=f"http://{host}:{receiver.port}/",
                                     secret="whsec_s", events=["model.created"])
    delivery = WebhookDelivery.objects.create(webhook=webhook, event="model.created",
                                              payload={})

    services.delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert no_connections == []
    assert receiver.requests == []
    assert (delivery.status, delivery.attempts, delivery.response_status,
            delivery.latency_ms) == (DeliveryStatus.FAILED, 1, None, None)
    bare_host = host.strip("[]")
    shown = address or "127.0.0.1"
    assert delivery.error in (f"{bare_host} is or resolves to a non-public address ({shown}).",
                              f"{bare_host} is or resolves to a non-public address (::1).")


def test_every_attempt_resolves_and_checks_the_host_again(
        receiver, webhook_to, settings, monkeypatch, admin_actor,
        django_capture_on_commit_callbacks):
    """DNS rebinding: the second answer for the same name is a private address."""
    answers = iter(["127.0.0.1", "10.0.0.1"])
    looked_up = []
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        looked_up.append(host)
        if host != "hooks.example.test":  # the checked address, as the socket connects
            return real_getaddrinfo(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    webhook_to(receiver.url(host="hooks.example.test"), events=["model.created"])
    receiver.answer(Answer(500, b"down"))

    create_model(admin_actor, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get()
    # The connection goes to the address checked, not to a second lookup of the name.
    assert looked_up == ["hooks.example.test", "127.0.0.1", "hooks.example.test"]
    assert len(receiver.requests) == 1
    assert receiver.requests[0].headers["Host"] == f"hooks.example.test:{receiver.port}"
    assert (delivery.status, delivery.attempts, delivery.error) == (
        DeliveryStatus.FAILED, 2,
        "hooks.example.test is or resolves to a non-public address (10.0.0.1).")


def test_http_is_refused_where_https_is_required(receiver, settings, default_tenant,
                                                 no_connections):
    settings.WEBHOOK_REQUIRE_HTTPS = True
    webhook = Webhook.objects.create(tenant=default_tenant, url=receiver.url(),
                                     secret="whsec_s", events=["model.created"])
    delivery = WebhookDelivery.objects.create(webhook=webhook, event="model.created",
                                              payload={})

    services.delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == (
        DeliveryStatus.FAILED, 1, "Webhook URLs must use https.")
    assert receiver.requests == []


def test_a_deactivated_webhooks_pending_delivery_is_not_sent(receiver, webhook_to,
                                                             default_tenant):
    webhook = webhook_to(receiver.url(), active=False)
    delivery = WebhookDelivery.objects.create(webhook=webhook, event="model.created",
                                              payload={})

    assert services.delivery_attempt(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.error) == (
        DeliveryStatus.FAILED, 1, "The webhook was deactivated.")
    assert receiver.requests == []


def test_a_finished_delivery_is_not_sent_again(receiver, webhook_to):
    webhook = webhook_to(receiver.url())
    delivery = WebhookDelivery.objects.create(webhook=webhook, event="model.created",
                                              payload={}, status=DeliveryStatus.SUCCEEDED,
                                              attempts=1)

    assert services.delivery_attempt(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert receiver.requests == []


def test_the_backoff_doubles_up_to_its_cap(settings):
    settings.WEBHOOK_RETRY_BACKOFF_SECONDS = 30
    settings.WEBHOOK_RETRY_BACKOFF_MAX_SECONDS = 200

    assert [services.retry_delay(n) for n in range(1, 6)] == [30, 60, 120, 200, 200]


def test_pending_deliveries_whose_message_was_lost_are_sent_again(
        receiver, webhook_to, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_RETRY_BACKOFF_MAX_SECONDS = 600
    webhook = webhook_to(receiver.url())
    long_ago = timezone.now() - timedelta(seconds=600 + 15 * 60 + 1)
    recently = timezone.now() - timedelta(seconds=600)
    lost = WebhookDelivery.objects.create(webhook=webhook, event="ping", payload={})
    retried_lost = WebhookDelivery.objects.create(webhook=webhook, event="ping", payload={},
                                                  attempts=1, last_attempt_at=long_ago)
    WebhookDelivery.objects.create(webhook=webhook, event="ping", payload={},
                                   attempts=1, last_attempt_at=recently)  # waits to retry
    WebhookDelivery.objects.create(webhook=webhook, event="ping", payload={},
                                   status=DeliveryStatus.FAILED)
    WebhookDelivery.objects.filter(pk=lost.pk).update(created_at=long_ago)

    with django_capture_on_commit_callbacks(execute=True):
        requeued = services.stale_deliveries_requeue()

    assert requeued == 2
    assert sorted(r.headers["X-Registry-Delivery"] for r in receiver.requests) == sorted(
        [str(lost.uid), str(retried_lost.uid)])
    assert list(WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED)
                .order_by("pk").values_list("pk", "attempts")) == [
        (lost.pk, 1), (retried_lost.pk, 2)]
