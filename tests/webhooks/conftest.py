"""A real HTTP receiver on 127.0.0.1, and webhooks that deliver to it."""

import contextlib
import http.server
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from accounts.models import Role
from accounts.selectors import actor_for
from webhooks import services
from webhooks.models import WebhookEvent


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    """Records every request; answers with the queued answers in turn, then the last one."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answers: list[Answer] = [Answer()]
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                receiver.requests.append(Received(self.path, dict(self.headers.items()),
                                                  self.rfile.read(length)))
                answer = (receiver.answers.pop(0) if len(receiver.answers) > 1
                          else receiver.answers[0])
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError):  # the client gave up waiting
                    self.wfile.write(answer.body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def answer(self, *answers: Answer) -> None:
        self.answers = list(answers)


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_LOOPBACK = True
    settings.WEBHOOK_REQUIRE_HTTPS = False
    settings.WEBHOOK_RETRY_BACKOFF_SECONDS = 0
    settings.WEBHOOK_MAX_ATTEMPTS = 4
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def tenant_admin(member_factory):
    return member_factory(Role.ADMIN, username="hook-admin")


@pytest.fixture
def admin_actor(tenant_admin, default_tenant):
    return actor_for(user=tenant_admin, tenant=default_tenant)


@pytest.fixture
def webhook_to(admin_actor):
    """A webhook of the default tenant, subscribed to every event unless told otherwise."""

    def create(url: str, events: list[str] | None = None, **fields):
        webhook, _ = services.webhook_create(actor=admin_actor, url=url,
                                             events=events or list(WebhookEvent.values),
                                             **fields)
        return webhook

    return create


def readme_verify():
    """The README's signature verification, run as written there."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    snippet = re.search(r"```python\n(import hashlib, hmac, time\n.*?)```", readme, re.S)
    namespace: dict = {}
    exec(snippet.group(1), namespace)
    return namespace["verify"]


verify = readme_verify()
