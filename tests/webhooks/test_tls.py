"""https deliveries connect to the checked address and still present, and check, the URL's
host name: SNI and the certificate are for `hooks.example.test`, not for 127.0.0.1."""

import datetime
import socket
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webhooks import services
from webhooks.models import DeliveryStatus, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db
HOST = "hooks.example.test"


def _certificate(subject: str, issuer_key, issuer_name, key, *, ca: bool,
                 dns_name: str | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer_name or x509.Name([
                   x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if dns_name:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def tls(receiver, tmp_path, settings, monkeypatch):
    """The receiver behind TLS with a certificate for `name` from a CA the delivery trusts;
    `HOST` resolves to 127.0.0.1. Returns the server names the clients asked for."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test CA", ca_key, None, ca_key, ca=True)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    settings.WEBHOOK_CA_BUNDLE = str(tmp_path / "ca.pem")
    asked = []

    def serve(name: str) -> list[str]:
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _certificate(name, ca_key, ca.subject, key, ca=False, dns_name=name)
        (tmp_path / "leaf.pem").write_bytes(
            leaf.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / "leaf.pem")
        context.sni_callback = lambda sock, server_name, ctx: asked.append(server_name)
        receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
        return asked

    real_getaddrinfo = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host == HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return serve


def deliver(receiver, default_tenant) -> WebhookDelivery:
    webhook = Webhook.objects.create(tenant=default_tenant, secret="whsec_s",
                                     url=f"https://{HOST}:{receiver.port}/hook",
                                     events=["model.created"])
    delivery = WebhookDelivery.objects.create(webhook=webhook, event="model.created",
                                              payload={})
    services.delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


def test_the_host_name_is_sent_as_sni_and_its_certificate_accepted(tls, receiver,
                                                                   default_tenant):
    asked = tls(HOST)

    delivery = deliver(receiver, default_tenant)

    assert (delivery.status, delivery.response_status, delivery.error) == (
        DeliveryStatus.SUCCEEDED, 200, "")
    assert asked == [HOST]
    assert receiver.requests[0].headers["Host"] == f"{HOST}:{receiver.port}"


def test_a_certificate_for_another_name_is_refused(tls, receiver, default_tenant, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    tls("other.example.test")

    delivery = deliver(receiver, default_tenant)

    assert (delivery.status, delivery.response_status, delivery.error) == (
        DeliveryStatus.FAILED, None, "The connection failed (ConnectError).")
    assert receiver.requests == []
