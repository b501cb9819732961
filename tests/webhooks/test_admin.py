"""Webhooks in the admin console: created through the service (the secret shown once),
the delivery log read only, and a test action that really delivers."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from tests.factories import TenantFactory
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(tenant_admin) -> Client:
    tenant_admin.is_staff = True
    tenant_admin.save()
    client = Client()
    client.force_login(tenant_admin)
    return client


def test_adding_a_webhook_shows_its_secret_once(admin_client, default_tenant):
    response = admin_client.post(reverse("admin:webhooks_webhook_add"), {
        "tenant": default_tenant.pk, "url": "https://hooks.example.com/x",
        "events": ["model.created", "file.scanned"], "active": "on", "description": "ops",
        "deliveries-TOTAL_FORMS": 0, "deliveries-INITIAL_FORMS": 0,
    })

    webhook = Webhook.objects.get()
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)][0] == (
        f"The webhook's signing secret, shown only this once: {webhook.secret}")
    assert (webhook.url, webhook.events, webhook.active, webhook.created_by.username) == (
        "https://hooks.example.com/x", ["file.scanned", "model.created"], True, "hook-admin")
    change = reverse("admin:webhooks_webhook_change", args=[webhook.pk])
    assert webhook.secret in admin_client.get(change).content.decode()  # the message
    assert webhook.secret not in admin_client.get(change).content.decode()


def test_the_form_refuses_what_the_service_refuses(admin_client, default_tenant, settings):
    settings.WEBHOOK_REQUIRE_HTTPS = True

    response = admin_client.post(reverse("admin:webhooks_webhook_add"), {
        "tenant": default_tenant.pk, "url": "http://169.254.169.254/", "events": [],
        "deliveries-TOTAL_FORMS": 0, "deliveries-INITIAL_FORMS": 0,
    })

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "url": ["Webhook URLs must use https."], "events": ["This field is required."]}
    assert Webhook.objects.count() == 0


def test_the_form_refuses_a_webhook_past_the_tenants_limit(admin_client, default_tenant,
                                                          webhook_to, settings):
    settings.WEBHOOK_MAX_PER_TENANT = 1
    webhook_to("https://a.example/")

    response = admin_client.post(reverse("admin:webhooks_webhook_add"), {
        "tenant": default_tenant.pk, "url": "https://b.example/", "events": ["model.created"],
        "deliveries-TOTAL_FORMS": 0, "deliveries-INITIAL_FORMS": 0,
    })

    assert response.context["adminform"].form.errors == {
        "tenant": ["A tenant has at most 1 webhooks."]}
    assert Webhook.objects.count() == 1


def test_the_send_test_action_delivers_a_ping(receiver, admin_client, webhook_to,
                                              django_capture_on_commit_callbacks):
    webhook = webhook_to(receiver.url())

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:webhooks_webhook_changelist"), {
            "action": "send_test", "_selected_action": [webhook.pk]})

    assert response.status_code == 302
    assert [r.headers["X-Registry-Event"] for r in receiver.requests] == ["ping"]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.status, delivery.attempts) == (
        "ping", DeliveryStatus.SUCCEEDED, 1)
    page = admin_client.get(reverse("admin:webhooks_webhook_change", args=[webhook.pk]))
    assert page.context["inline_admin_formsets"][0].formset.queryset.get() == delivery


def test_the_delivery_log_is_read_only_and_per_tenant(admin_client, webhook_to):
    mine = WebhookDelivery.objects.create(webhook=webhook_to("https://a.example/"),
                                          event="ping", payload={})
    other = Webhook.objects.create(tenant=TenantFactory(slug="other"), url="https://b.example/",
                                   secret="whsec_x", events=["model.created"])
    WebhookDelivery.objects.create(webhook=other, event="ping", payload={})

    listed = admin_client.get(reverse("admin:webhooks_webhookdelivery_changelist"))
    opened = admin_client.get(reverse("admin:webhooks_webhookdelivery_change", args=[mine.pk]))

    assert list(listed.context["cl"].queryset) == [mine]
    assert opened.status_code == 200
    assert opened.context["has_change_permission"] is False
    assert admin_client.get(reverse("admin:webhooks_webhookdelivery_add")).status_code == 403
