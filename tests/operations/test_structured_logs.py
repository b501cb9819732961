"""Structured log lines: request ids, the caller in every line, and no credentials."""

import io
import json
import logging
import re

import pytest
from django.test import Client

from accounts.actor import Actor
from accounts.models import Role
from accounts.services import api_token_create
from config.structured_logging import formatter, mask_secrets

pytestmark = pytest.mark.django_db

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def log_lines():
    """The JSON lines every logger writes during the test, parsed."""
    options = dict(formatter("json"))
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(options.pop("()")(**options))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def read() -> tuple[str, list[dict]]:
        text = handler.stream.getvalue()
        return text, [json.loads(line) for line in text.splitlines()]

    yield read
    root.removeHandler(handler)
    root.setLevel(previous_level)


@pytest.fixture
def api_token(maintainer, default_tenant) -> str:
    actor = Actor(user=maintainer, tenant=default_tenant, role=Role.MAINTAINER)
    return api_token_create(actor=actor, name="deploy", scopes=["read"])[1]


def test_a_plain_request_id_is_kept_and_returned():
    response = Client().get("/health/", headers={"X-Request-ID": "deploy-42.a:7"})

    assert response["X-Request-ID"] == "deploy-42.a:7"


@pytest.mark.parametrize("sent", [None, "", "two words", "x" * 129, "id\u00e9"])
def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(sent):
    headers = {} if sent is None else {"X-Request-ID": sent}

    first = Client().get("/health/", headers=headers)["X-Request-ID"]
    second = Client().get("/health/", headers=headers)["X-Request-ID"]

    assert GENERATED_ID.fullmatch(first) and GENERATED_ID.fullmatch(second)
    assert first != second


def test_every_line_of_a_token_request_names_request_tenant_user_and_token(
    log_lines, api_token, maintainer, default_tenant
):
    response = Client().post(
        "/graphql/", data=json.dumps({"query": "{ viewer { role } }"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_token}", "X-Request-ID": "req-1"},
    )
    text, lines = log_lines()

    assert response.status_code == 200
    lookup = api_token.split("_")[1]
    assert [line["event"] for line in lines] == ["request_started", "request_finished"]
    assert {(line["request_id"], line["tenant"], line["user_id"], line["token"])
            for line in lines} == {("req-1", default_tenant.slug, maintainer.pk, f"rgk_{lookup}")}
    assert lines[1]["code"] == 200
    assert api_token.split("_", 2)[2] not in text


def test_a_refused_token_is_named_by_its_label_only(log_lines):
    garbage = "Zm9vYmFyLXNlY3JldC12YWx1ZQ"
    response = Client().post(
        "/graphql/", data=json.dumps({"query": "{ viewer { role } }"}),
        content_type="application/json", headers={"Authorization": f"Bearer {garbage}"},
    )
    text, lines = log_lines()

    assert response.status_code == 401
    assert {(line["tenant"], line["user_id"], line["token"]) for line in lines} == {
        (None, None, "unrecognised")}
    assert garbage not in text


def test_an_upload_part_url_is_logged_without_its_capability(log_lines):
    capability = "WzEsMV0:1tAbCd:SiGnAtUrE-secret"
    response = Client().put(f"/uploads/parts/{capability}", data=b"x",
                            content_type="application/octet-stream")
    text, lines = log_lines()

    assert response.status_code in (400, 401, 403, 404)
    assert lines[0]["request"] == "PUT /uploads/parts/[redacted]"
    assert capability not in text


def test_mask_secrets_keeps_what_names_a_credential_and_drops_what_grants_it():
    assert mask_secrets(
        "Bearer rgk_0123456789abcdef_s3cr3t-Value_x GET /uploads/parts/abc:def:ghi?x=1 "
        "https://s3/b/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=f00d&X-Amz-Date=1"
    ) == (
        "Bearer rgk_0123456789abcdef_[redacted] GET /uploads/parts/[redacted]?x=1 "
        "https://s3/b/k?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]&X-Amz-Date=1"
    )
