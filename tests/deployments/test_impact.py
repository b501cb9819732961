"""Impact analysis: from a dataset version through lineage to model versions, their aliases
and the services serving them, and back; a private model the caller cannot see is absent,
and nothing counts it."""

import pytest

from deployments import services as deployment_services
from deployments.models import DeploymentState
from registry import models, services
from tests.deployments.conftest import gid

IMPACT = """query($id: ID!) { datasetVersionImpact(id: $id) {
  datasetVersion { version dataset { name } }
  modelVersions { version model { name } aliases inferenceServices { name state } }
  inferenceServices { name state environment { name } modelVersion { model { name } } }
} }"""
LINEAGE = """query($id: ID!) { modelVersionLineage(id: $id) {
  modelVersion { version model { name } }
  datasetVersions { version dataset { name } }
} }"""


@pytest.fixture
def lineage(world):
    """dataset version → {public version (aliased, deployed), private version (deployed)};
    the public version also trained on a private dataset's version."""
    owner = world.actor("owner")
    services.model_alias_set(actor=owner, model_id=world.public_model.pk, alias="champion",
                             version_id=world.public_version.pk)
    for version, name, state in [(world.public_version, "detector-edge", "deployed"),
                                 (world.public_version, "detector-old", "undeployed"),
                                 (world.private_version, "secret-edge", "deployed")]:
        deployment_services.inference_service_create(
            actor=owner, environment_id=world.environment.pk, model_version_id=version.pk,
            name=name, state=DeploymentState(state))
    private_dataset = services.catalog_entry_create(entry_class=models.Dataset, actor=owner,
                                                    name="private-images")
    private_dataset_version = services.version_create(
        version_class=models.DatasetVersion, actor=owner, parent_id=private_dataset.pk,
        version="2.0.0")
    services.version_update(actor=owner, version=world.public_version,
                            dataset_versions=services.ListChanges(
                                add=[private_dataset_version.pk]))
    return world


@pytest.mark.django_db
def test_a_viewer_sees_the_impact_of_a_dataset_version_without_the_private_model(lineage):
    impact = lineage.client("viewer")(IMPACT, {"id": gid(lineage.dataset_version)}).data

    assert impact == {"datasetVersionImpact": {
        "datasetVersion": {"version": "1.0.0", "dataset": {"name": "street-images"}},
        "modelVersions": [{"version": "1.0.0", "model": {"name": "detector"},
                           "aliases": ["champion"],
                           "inferenceServices": [{"name": "detector-edge", "state": "DEPLOYED"},
                                                 {"name": "detector-old",
                                                  "state": "UNDEPLOYED"}]}],
        "inferenceServices": [
            {"name": "detector-edge", "state": "DEPLOYED", "environment": {"name": "production"},
             "modelVersion": {"model": {"name": "detector"}}},
            {"name": "detector-old", "state": "UNDEPLOYED",
             "environment": {"name": "production"},
             "modelVersion": {"model": {"name": "detector"}}},
        ],
    }}


@pytest.mark.django_db
def test_the_owner_sees_the_whole_impact(lineage):
    impact = lineage.client("owner")(IMPACT, {"id": gid(lineage.dataset_version)}).data

    result = impact["datasetVersionImpact"]
    assert [(v["model"]["name"], v["aliases"]) for v in result["modelVersions"]] == [
        ("detector", ["champion"]), ("secret-detector", [])]
    assert [s["name"] for s in result["inferenceServices"]] == [
        "detector-edge", "detector-old", "secret-edge"]


@pytest.mark.django_db
def test_the_lineage_of_a_model_version_lists_only_visible_dataset_versions(lineage):
    as_viewer = lineage.client("viewer")(LINEAGE, {"id": gid(lineage.public_version)}).data
    as_owner = lineage.client("owner")(LINEAGE, {"id": gid(lineage.public_version)}).data
    private = lineage.client("viewer")(LINEAGE, {"id": gid(lineage.private_version)}).data

    assert as_viewer == {"modelVersionLineage": {
        "modelVersion": {"version": "1.0.0", "model": {"name": "detector"}},
        "datasetVersions": [{"version": "1.0.0", "dataset": {"name": "street-images"}}]}}
    assert as_owner["modelVersionLineage"]["datasetVersions"] == [
        {"version": "2.0.0", "dataset": {"name": "private-images"}},
        {"version": "1.0.0", "dataset": {"name": "street-images"}}]
    # A model version one may not see answers as one that does not exist.
    assert private == {"modelVersionLineage": None}


@pytest.mark.django_db
def test_impact_of_an_invisible_or_missing_dataset_version_is_null(lineage):
    owner = lineage.actor("owner")
    hidden = services.catalog_entry_create(entry_class=models.Dataset, actor=owner,
                                           name="hidden-images")
    hidden_version = services.version_create(version_class=models.DatasetVersion,
                                             actor=owner, parent_id=hidden.pk, version="1.0.0")
    client = lineage.client("viewer")

    hidden_result = client(IMPACT, {"id": gid(hidden_version)}).data
    missing = client(IMPACT, {"id": "RGF0YXNldFZlcnNpb246OTk5OTk5"}).data
    wrong_type = client(IMPACT, {"id": gid(lineage.public_version)}).data

    assert hidden_result == missing == wrong_type == {"datasetVersionImpact": None}
