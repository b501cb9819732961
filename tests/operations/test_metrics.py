"""/metrics: who may scrape it, and exact counter deltas after known actions."""

import hashlib

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from strawberry.relay import to_base64

from registry.models import ArtifactFile, ModelVersion
from tests.conftest import graphql_client_for
from tests.factories import ModelVersionFactory, RegisteredModelFactory
from tests.scanning import corpus
from tests.scanning.conftest import SERVED, UPLOAD, download_status, global_id

pytestmark = pytest.mark.django_db

TOKEN = "metrics-scrape-token"
START = """mutation StartOne($v: ID!, $path: String!, $size: BigInt!, $sha: String!, $n: Int!) {
  startUpload(versionId: $v, path: $path, size: $size, sha256: $sha, partCount: $n) {
    ... on UploadSession { id } ... on OperationInfo { messages { code } } } }"""
ABORT = """mutation AbortOne($id: ID!) { abortUpload(uploadId: $id) {
  ... on UploadSession { state } ... on OperationInfo { messages { code } } } }"""
BAD_MODEL = """mutation BadModel($data: CreateModelInput!) { createModel(data: $data) {
  ... on OperationInfo { messages { code } } } }"""


@pytest.fixture
def version(default_tenant, maintainer) -> ModelVersion:
    return ModelVersionFactory(model=RegisteredModelFactory(tenant=default_tenant,
                                                            owner=maintainer))


@pytest.fixture(autouse=True)
def _token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape() -> dict[tuple, float]:
    response = Client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples}


def delta(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0) - before.get(key, 0)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {TOKEN}"])
def test_without_the_token_metrics_answer_404(authorization):
    headers = {"Authorization": authorization} if authorization else {}

    assert Client().get("/metrics", headers=headers).status_code == 404


@pytest.mark.parametrize(("production", "status"), [(True, 404), (False, 200)])
def test_without_a_token_set_metrics_are_open_only_outside_production(settings, production,
                                                                       status):
    settings.METRICS_TOKEN, settings.IS_PRODUCTION = "", production

    assert Client().get("/metrics").status_code == status


def test_a_push_a_scan_and_a_pull_are_counted_by_tenant_and_verdict(
    maintainer, version, default_tenant, django_capture_on_commit_callbacks
):
    content = corpus.benign_checkpoint()
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        graphql_client_for(maintainer).upload(
            UPLOAD.replace("mutation(", "mutation PushOne(", 1),
            {"versionId": global_id(version), "path": "model.pt", "file": None},
            {"variables.file": ("model.pt", content)},
        )
    artifact = ArtifactFile.objects.get()
    assert artifact.scan_status == "clean"
    assert download_status(maintainer, artifact) == SERVED
    after = scrape()

    tenant = default_tenant.slug
    assert [delta(before, after, name, tenant=tenant) for name in (
        "registry_pushes_total", "registry_pushed_bytes_total",
        "registry_pulls_total", "registry_pulled_bytes_total")] == [
        1, len(content), 1, len(content)]
    assert delta(before, after, "registry_scans_total", verdict="clean") == 1
    assert delta(before, after, "registry_scan_duration_seconds_count") == 1
    assert delta(before, after, "registry_graphql_requests_total",
                 operation="PushOne", outcome="ok") == 1
    assert delta(before, after, "registry_graphql_request_duration_seconds_count",
                 operation="PushOne") == 1
    assert after[("registry_storage_files", (("tenant", tenant),))] == 1
    assert after[("registry_storage_bytes", (("tenant", tenant),))] == len(content)
    assert after[("registry_scan_queue_files", ())] == 0


def test_upload_sessions_open_and_aborted(maintainer, version):
    gql = graphql_client_for(maintainer)
    data = b"x" * 1024
    before = scrape()
    session = gql(START, {"v": to_base64("ModelVersion", version.pk), "path": "a.bin",
                          "size": len(data), "sha": hashlib.sha256(data).hexdigest(), "n": 1}
                  ).data["startUpload"]
    opened = scrape()
    assert gql(ABORT, {"id": session["id"]}).data["abortUpload"] == {"state": "ABORTED"}
    after = scrape()

    assert (opened[("registry_upload_sessions_open", ())],
            after[("registry_upload_sessions_open", ())]) == (1, 0)
    assert delta(before, after, "registry_upload_sessions_aborted_total", reason="client") == 1


def test_error_codes_and_outcomes_are_counted(maintainer):
    gql = graphql_client_for(maintainer)
    before = scrape()
    rejected = gql(BAD_MODEL, {"data": {"name": "not a name!"}})
    too_deep = gql("query Deep { node(id: \"x\") { ... on ModelVersion {"
                   + " model { latestVersion {" * 7 + " id" + " } }" * 7 + " } } }")
    refused = Client().post("/graphql/", data={"query": "{ viewer { role } }"},
                            content_type="application/json",
                            headers={"Authorization": "Bearer rgk_0123456789abcdef_nope"})
    after = scrape()

    assert rejected.data["createModel"]["messages"][0]["code"] == "invalid_name"
    assert too_deep.body["errors"][0]["extensions"]["code"] == "query_too_deep"
    assert refused.status_code == 401
    assert [delta(before, after, "registry_errors_total", code=code) for code in (
        "invalid_name", "query_too_deep", "invalid_token")] == [1, 1, 1]
    assert delta(before, after, "registry_graphql_requests_total",
                 operation="BadModel", outcome="rejected") == 1
    assert delta(before, after, "registry_graphql_requests_total",
                 operation="Deep", outcome="error") == 1
