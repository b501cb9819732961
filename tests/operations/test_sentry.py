"""Sentry delivery, proven against a local HTTP endpoint that speaks the envelope protocol:
unexpected exceptions in a resolver and in a task arrive, a caller's mistake does not."""

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk

from config.celery import app
from config.monitoring import init_sentry
from tests.conftest import graphql_client_for

pytestmark = pytest.mark.django_db

CREATE_MODEL = """mutation($data: CreateModelInput!) { createModel(data: $data) {
  ... on OperationInfo { messages { code } } } }"""


class EnvelopeReceiver(ThreadingHTTPServer):
    """Collects the events of the envelopes posted to /api/<project>/envelope/."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), EnvelopeHandler)
        self.events: list[dict] = []
        self.raw: list[bytes] = []

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server_port}/1"


class EnvelopeHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "identity")
        assert encoding in ("gzip", "identity"), f"unexpected encoding {encoding}"
        if encoding == "gzip":
            body = gzip.decompress(body)
        self.server.raw.append(body)
        lines = body.split(b"\n")
        # An envelope: its header, then pairs of item header and item payload.
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                self.server.events.append(json.loads(payload))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sentry():
    receiver = EnvelopeReceiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    init_sentry(receiver.dsn, environment="test", release="model-registry@test",
                traces_sample_rate=0.0)
    yield receiver
    sentry_sdk.init()  # no DSN: reporting off again for the other tests
    receiver.shutdown()
    receiver.server_close()


def delivered(receiver: EnvelopeReceiver) -> list[dict]:
    sentry_sdk.flush(timeout=10)
    return receiver.events


def exception_values(event: dict) -> list[str]:
    return [value["value"] for value in event["exception"]["values"]]


@app.task(name="tests.operations.failing_task")
def failing_task() -> None:
    raise RuntimeError("boom in a task")


def test_an_exception_in_a_resolver_arrives_tagged_with_its_request_id(sentry, monkeypatch):
    def broken():
        raise RuntimeError("boom in a resolver")

    monkeypatch.setattr("config.schema.all_error_codes", broken)
    result = graphql_client_for()("{ errorCodes { code } }", **{"X-Request-ID": "req-sentry-1"})

    [event] = delivered(sentry)
    assert result.body["errors"][0]["message"] == "boom in a resolver"
    assert exception_values(event)[-1] == "boom in a resolver"
    assert (event["tags"]["request_id"], event["environment"], event["release"]) == (
        "req-sentry-1", "test", "model-registry@test")


def test_an_exception_in_a_task_arrives(sentry):
    failing_task.delay()

    [event] = delivered(sentry)
    assert exception_values(event) == ["boom in a task"]
    assert event["tags"]["celery_task_id"]


def test_a_callers_mistake_does_not_arrive_and_no_personal_data_does(
    sentry, maintainer, monkeypatch
):
    client = graphql_client_for(maintainer)
    coded = client(CREATE_MODEL, {"data": {"name": "not a name!"}})
    invalid = client("{ noSuchField }")
    assert coded.body["data"]["createModel"]["messages"][0]["code"] == "invalid_name"
    assert invalid.body["errors"]
    assert delivered(sentry) == []

    def broken():
        raise RuntimeError("boom after the mistakes")

    monkeypatch.setattr("config.schema.all_error_codes", broken)
    client("{ errorCodes { code } }")

    [event] = delivered(sentry)
    assert exception_values(event)[-1] == "boom after the mistakes"
    raw = b"".join(sentry.raw)
    assert b"sessionid" not in raw and maintainer.username.encode() not in raw
    assert "user" not in event
    assert "variables" not in event["request"].get("data", {})

