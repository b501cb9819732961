"""Input edges (issue 21, item 5): each bad input is a clear error with a code, never a trace
or a 500, and nothing is stored."""

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.exceptions import ValidationError
from django.core.management import load_command_class
from django.test import Client
from strawberry.relay import to_base64

from accounts.models import ApiToken
from accounts.selectors import actor_for
from registry import services
from registry.models import ArtifactFile, ModelVersion, RegisteredModel, UploadSession
from tests.accounts.conftest import login
from tests.accounts.test_api_tokens import create_token
from tests.factories import ModelVersionFactory, RegisteredModelFactory
from tests.registry.test_catalog_api import CREATE_VERSION, UPDATE_MODEL
from tests.registry.test_upload import sha256

pytestmark = pytest.mark.django_db
NODE = '{ node(id: "%s") { id } }'
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
START = """mutation($v: ID!, $sha: String!, $type: String!) {
  startUpload(versionId: $v, path: "model.bin", size: 7, sha256: $sha, partCount: 1,
              contentType: $type) {
    ... on UploadSession { id } ... on OperationInfo { messages { code field } } } }"""


def raw_post(body: bytes, client: Client | None = None):
    response = (client or Client()).post("/graphql/", data=body,
                                         content_type="application/json")
    return response.status_code, json.loads(response.content)


def refusal(code: str, message: str) -> dict:
    return {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}


# --- contentType ---------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", [
    "text/plain\r\nX-Injected: 1", "text/plain\n", "application", "a/b c", "/json",
    "text/plain; charset=utf-8\r\n", "x" * 190 + "/" + "y" * 20,
])
def test_a_content_type_that_is_not_a_media_type_is_refused_and_nothing_stored(
        storage_backend, gql, maintainer, default_tenant, content_type):
    version = ModelVersionFactory(model=RegisteredModelFactory(tenant=default_tenant,
                                                               owner=maintainer))

    started = gql(START, {"v": to_base64("ModelVersion", version.pk), "sha": sha256(b"weights"),
                          "type": content_type}).data["startUpload"]
    with pytest.raises(ValidationError) as refused:
        services.file_add(actor=actor_for(user=maintainer, tenant=default_tenant), version=version,
                          path="model.bin", stream=io.BytesIO(b"weights"), declared_size=7,
                          content_type=content_type)

    assert started["messages"] == [{"code": "invalid_content_type", "field": "contentType"}]
    assert refused.value.error_dict["contentType"][0].code == "invalid_content_type"
    assert (UploadSession.objects.count(), ArtifactFile.objects.count()) == (0, 0)


def test_a_media_type_with_parameters_is_kept(storage_backend, maintainer, default_tenant):
    version = ModelVersionFactory(model=RegisteredModelFactory(tenant=default_tenant,
                                                               owner=maintainer))

    actor = actor_for(user=maintainer, tenant=default_tenant)
    artifact = services.file_add(actor=actor, version=version, path="card.md",
                                 stream=io.BytesIO(b"# card"), declared_size=6,
                                 content_type='text/markdown; charset="utf-8"')

    assert artifact.content_type == 'text/markdown; charset="utf-8"'


# --- versions --------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [
    "1.0.0\n", "1.0.0-rc.1\n", "99999999999999999999.0.0", "1.2147483648.0", "1.0.\u0661",
    "\u0661.0.0",
])
def test_a_version_with_a_newline_other_digits_or_an_unbounded_part_is_refused(
        gql, maintainer, default_tenant, version):
    model = RegisteredModelFactory(tenant=default_tenant, owner=maintainer)

    result = gql(CREATE_VERSION, {"data": {"modelId": to_base64("RegisteredModel", model.pk),
                                           "version": version}})

    assert result.data["createModelVersion"]["messages"] == [
        {"code": "invalid_version", "field": "version"}]
    assert ModelVersion.objects.count() == 0


def test_the_largest_version_part_is_accepted(gql, maintainer, default_tenant):
    model = RegisteredModelFactory(tenant=default_tenant, owner=maintainer)

    result = gql(CREATE_VERSION, {"data": {"modelId": to_base64("RegisteredModel", model.pk),
                                           "version": "2147483647.0.0"}})

    assert result.data["createModelVersion"]["version"] == "2147483647.0.0"


# --- global ids ------------------------------------------------------------------------------

BAD_IDS = ["@@@", "not base64!", to_base64("RegisteredModel", "abc"),
           to_base64("RegisteredModel", "\u0661"), to_base64("RegisteredModel", "1.0"),
           to_base64("RegisteredModel", "9" * 30), to_base64("Nope", "1"),
           to_base64("ServerInfo", "1"), to_base64("RegisteredModel", "")]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_node_answers_null_for_any_bad_id_without_an_error(gql, maintainer, default_tenant,
                                                           bad_id):
    RegisteredModelFactory(tenant=default_tenant, owner=maintainer)  # pk 1 exists

    assert gql(NODE % bad_id).body == {"data": {"node": None}}


def test_nodes_answers_null_for_bad_ids_and_keeps_the_good_ones_in_order(
        gql, maintainer, default_tenant):
    model = RegisteredModelFactory(tenant=default_tenant, owner=maintainer)
    good = to_base64("RegisteredModel", model.pk)

    result = gql(NODES, {"ids": [BAD_IDS[0], good, *BAD_IDS[1:], good]})

    assert result.body == {"data": {"nodes": [None, {"id": good}, *[None] * 8, {"id": good}]}}


def test_an_id_in_other_digits_does_not_reach_the_model_it_reads_as(gql, maintainer,
                                                                    default_tenant):
    model = RegisteredModelFactory(tenant=default_tenant, owner=maintainer, description="kept")
    arabic_indic = to_base64("RegisteredModel", chr(0x0660 + model.pk))

    result = gql(UPDATE_MODEL, {"data": {"id": arabic_indic, "description": "changed"}})

    assert [(m["code"], m["field"]) for m in result.data["updateModel"]["messages"]] == [
        ("not_found", "id")]
    model.refresh_from_db()
    assert model.description == "kept"


@pytest.mark.parametrize("bad_id", ["@@@", "not base64!"])
def test_a_malformed_id_in_a_mutation_is_not_found_not_the_parsers_text(gql, maintainer,
                                                                        default_tenant, bad_id):
    RegisteredModelFactory(tenant=default_tenant, owner=maintainer)

    result = gql('mutation($id: ID!) { deleteModel(id: $id) { __typename } }', {"id": bad_id})

    assert [(error["message"], error["extensions"]) for error in result.body["errors"]] == [
        ("Not found.", {"code": "not_found"})]
    assert RegisteredModel.objects.count() == 1


# --- token names ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["ci\n", " ci", "ci ", "c\ti", "\u0085ci"])
def test_a_token_name_with_surrounding_spaces_or_control_characters_is_refused(maintainer,
                                                                               name):
    created = create_token(login(maintainer.username)["accessToken"], name=name)

    assert [(m["code"], m["field"]) for m in created["messages"]] == [("invalid_name", "name")]
    assert ApiToken.objects.count() == 0


# --- request bodies --------------------------------------------------------------------------

def test_deeply_nested_variables_are_a_coded_400_for_anyone(maintainer):
    signed_in = Client()
    signed_in.force_login(maintainer)
    expected = refusal("invalid_request",
                       "The request body is not UTF-8 JSON, or nests deeper than allowed.")
    for depth in (65, 100_000):  # over the limit, and deeper than Python's recursion limit
        body = ('{"query": "{ serverInfo { name } }", "variables": {"a": %s}}'
                % ("[" * depth + "]" * depth)).encode()
        for client in (Client(), signed_in):
            assert raw_post(body, client) == (400, expected)


def test_variables_within_the_nesting_limit_are_accepted():
    body = ('{"query": "{ serverInfo { name } }", "variables": {"a": %s}}'
            % ("[" * 60 + "]" * 60)).encode()

    assert raw_post(body) == (200, {"data": {"serverInfo": {"name": "model-registry"}}})


@pytest.mark.parametrize("body", [b'{"query": "{ serverInfo { name } }\xff"}',
                                  b"\xfe\xff{}", b'{"query": '])
def test_a_body_that_is_not_utf8_json_is_a_coded_400(body):
    assert raw_post(body) == (400, refusal(
        "invalid_request", "The request body is not UTF-8 JSON, or nests deeper than allowed."))


def test_a_body_over_the_request_limit_is_a_coded_413(settings):
    body = b'{"query": "' + b"a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}'

    assert raw_post(body) == (413, refusal("request_too_large",
                                           "The request body is larger than allowed."))


# --- static files under runserver --------------------------------------------------------

@pytest.mark.parametrize(("path", "status"), [
    ("/static/../settings.py", "404 Not Found"),
    ("/static/../../../../etc/passwd", "404 Not Found"),
    ("/static/admin/css/base.css", "200 OK"),
])
def test_runserver_keeps_static_paths_inside_the_static_folders(settings, path, status):
    settings.DEBUG = True
    handler = load_command_class("config", "runserver").get_handler(
        use_static_handler=True, insecure_serving=True)
    environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    answered = []

    body = handler(environ, lambda answer, headers, *rest: answered.append(answer))

    assert answered == [status]
    getattr(body, "close", lambda: None)()


# --- the catalogue ---------------------------------------------------------------------------

def test_every_code_of_issue_21_is_listed_by_error_codes():
    body = Client().post("/graphql/", data=json.dumps({"query": "{ errorCodes { code } }"}),
                         content_type="application/json").json()
    listed = {entry["code"] for entry in body["data"]["errorCodes"]}

    assert {"invalid_pattern", "pattern_timeout", "invalid_content_type", "invalid_request",
            "request_too_large", "too_many_uploads", "not_found", "invalid_name",
            "invalid_version"} <= listed
