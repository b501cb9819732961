"""One HTTP attempt of a delivery: signed, to a public address only, no redirects.

SSRF: the host is resolved here and every address it resolves to must be public (loopback
only with WEBHOOK_ALLOW_LOOPBACK); the connection is then made to that checked address,
with the URL's host as the Host header and as the TLS server name (SNI and certificate
check), so a second DNS answer (rebinding) cannot send it elsewhere. Each attempt resolves
and checks again.
"""

import hashlib
import hmac
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass

import httpx
from django.conf import settings

import config

EXCERPT_BYTES = 1024
# Worth another attempt: the receiver may recover. Any other non-2xx answer is final.
RETRYABLE_STATUSES = frozenset({408, 425, 429})
USER_AGENT = f"model-registry-webhooks/{config.__version__}"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedDestination(Exception):
    """The URL may not be delivered to (scheme, or an address that is not public)."""


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None = None
    latency_ms: int | None = None
    excerpt: str = ""
    error: str = ""
    retryable: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def address_allowed(address: IPAddress, *, allow_loopback: bool) -> bool:
    """Public unicast addresses only: `is_global` excludes private, link-local (169.254/16,
    where cloud metadata answers), shared (100.64/10), documentation and reserved ranges."""
    embedded = [address.ipv4_mapped, address.sixtofour] if address.version == 6 else []
    if any(inner is not None and not address_allowed(inner, allow_loopback=allow_loopback)
           for inner in embedded):
        return False
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast


def checked_address(host: str, port: int) -> IPAddress:
    """The address to connect to: `host` itself when it is an IP address, else the first
    address it resolves to, when every one of them is allowed."""
    allow_loopback = settings.WEBHOOK_ALLOW_LOOPBACK
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in
                     socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    refused = [a for a in addresses if not address_allowed(a, allow_loopback=allow_loopback)]
    if refused:
        raise RefusedDestination(non_public(host, refused[0]))
    return addresses[0]


def non_public(host: str, address: IPAddress) -> str:
    return f"{host} is or resolves to a non-public address ({address})."


def url_refusal(url: str) -> str | None:
    """Why `url` may not be delivered to without looking its host up, else None."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "Not a valid URL."
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "Give an absolute http or https URL."
    if parsed.scheme != "https" and settings.WEBHOOK_REQUIRE_HTTPS:
        return "Webhook URLs must use https."
    if parsed.userinfo:
        return "A webhook URL cannot carry credentials."
    try:
        address = ipaddress.ip_address(parsed.host)
    except ValueError:
        return None
    if not address_allowed(address, allow_loopback=settings.WEBHOOK_ALLOW_LOOPBACK):
        return non_public(parsed.host, address)
    return None


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 of `<timestamp>.<body>` with the webhook's secret, as hex."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body,
                    hashlib.sha256).hexdigest()


def signed_headers(*, secret: str, body: bytes, event: str, delivery_uid: str,
                   request_id: str, timestamp: int) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        # The excerpt is read as sent: no decompression of whatever the receiver answers.
        "Accept-Encoding": "identity",
        "X-Registry-Event": event,
        "X-Registry-Delivery": delivery_uid,
        "X-Registry-Signature": f"t={timestamp},v1={signature(secret, timestamp, body)}",
    }
    if request_id:
        headers["X-Request-ID"] = request_id
    return headers


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def send(*, url: str, body: bytes, headers: dict[str, str]) -> AttemptResult:
    """POST `body` to `url` once. Never raises for what the network or receiver does."""
    refusal = url_refusal(url)
    if refusal is not None:
        return AttemptResult(error=refusal)
    parsed = httpx.URL(url)
    host = parsed.raw_host.decode("ascii")  # an IDN host in its ASCII (punycode) form
    try:
        address = checked_address(host, parsed.port or (443 if parsed.scheme == "https"
                                                        else 80))
    except RefusedDestination as error:
        return AttemptResult(error=str(error))
    except (OSError, UnicodeError) as error:
        return AttemptResult(error=f"{host} could not be resolved ({error}).",
                             retryable=True)
    extensions = {}
    if parsed.scheme == "https" and host != str(address):
        extensions["sni_hostname"] = host  # the certificate is checked for this name
    timeout = httpx.Timeout(settings.WEBHOOK_TIMEOUT_SECONDS,
                            connect=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS)
    bundle = settings.WEBHOOK_CA_BUNDLE
    verify = ssl.create_default_context(cafile=bundle) if bundle else True
    started = time.perf_counter()
    # trust_env off: no proxy from the environment, which would connect elsewhere.
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                      verify=verify) as client:
        try:
            with client.stream("POST", parsed.copy_with(host=str(address)), content=body,
                               headers={**headers, "Host": parsed.netloc.decode("ascii")},
                               extensions=extensions) as response:
                latency = _elapsed_ms(started)
                excerpt = _excerpt(response)
        except httpx.TimeoutException:
            return AttemptResult(latency_ms=_elapsed_ms(started), retryable=True,
                                 error="The receiver did not answer in time.")
        except httpx.HTTPError as error:
            return AttemptResult(latency_ms=_elapsed_ms(started), retryable=True,
                                 error=f"The connection failed ({type(error).__name__}).")
    status = response.status_code
    error = ""
    if response.is_redirect:
        error = f"The receiver redirected ({status}); redirects are not followed."
    elif not 200 <= status < 300:
        error = f"The receiver answered {status}."
    return AttemptResult(status_code=status, latency_ms=latency, excerpt=excerpt, error=error,
                         retryable=status in RETRYABLE_STATUSES or status >= 500)


def _excerpt(response: httpx.Response) -> str:
    """The first EXCERPT_BYTES of the body, as text; the rest is never read."""
    kept = b""
    for chunk in response.iter_raw():
        kept += chunk
        if len(kept) >= EXCERPT_BYTES:
            break
    # PostgreSQL text cannot hold NUL.
    return kept[:EXCERPT_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")
