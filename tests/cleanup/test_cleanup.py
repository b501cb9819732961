"""Cleanup of dormant versions: the exact proposal for a tenant holding aliased, deployed,
production-lineage, recently pulled, shared-blob and truly dormant versions; approval into
the trash (with what became protected skipped), restore, and the exact bytes purged."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.template.defaultfilters import filesizeformat
from strawberry.relay import to_base64

from accounts.errors import CodedValidationError
from accounts.models import Role
from accounts.selectors import actor_for
from audit.models import AuditEntry
from cleanup import services
from cleanup.models import (
    CleanupProposal,
    ExcludedVersion,
    ItemState,
    ProposalItem,
    ProposalState,
    RetentionPolicy,
)
from config import metrics
from deployments import services as deployment_services
from registry import services as registry_services
from registry import transfer, trash
from registry.models import ArtifactFile, Blob, DatasetVersion, ModelVersion, Status
from registry.storage.backends import backend
from tests.conftest import graphql_client_for
from tests.factories import (
    DatasetFactory,
    DatasetVersionFactory,
    ModelVersionFactory,
    RegisteredModelFactory,
    TenantFactory,
    artifact_file,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=400)
SHARED = b"shared weights " * 10            # detector 1.0.0 and images 1.1.0 (both proposed)
DETECTOR_OWN = b"detector 1.0.0 only" * 7
IMAGES_OWN = b"images 1.1.0 only" * 5
SEGMENTER_KEPT = b"segmenter shared with 2.0.0" * 3
SEGMENTER_OWN = b"segmenter 1.1.0 only" * 11


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


class Tenancy:
    """The tenant's catalog, every version created 400 days before NOW unless said."""

    def __init__(self, tenant, admin) -> None:
        self.tenant, self.admin = tenant, admin
        self.actor = actor_for(user=admin, tenant=tenant)
        self.versions: dict[str, ModelVersion | DatasetVersion] = {}

    def model(self, name: str, versions: list[str], status: str = Status.TRAINING):
        entry = RegisteredModelFactory(tenant=self.tenant, owner=self.admin, name=name,
                                       status=status)
        for number in versions:
            self.versions[f"{name} {number}"] = ModelVersionFactory(model=entry, version=number)
        return entry

    def dataset(self, name: str, versions: list[str]):
        entry = DatasetFactory(tenant=self.tenant, owner=self.admin, name=name)
        for number in versions:
            self.versions[f"{name} {number}"] = DatasetVersionFactory(dataset=entry,
                                                                      version=number)
        return entry

    def pull(self, label: str) -> None:
        for artifact in self.versions[label].files.all():
            transfer.file_download_record(actor=self.actor, artifact=artifact)


@pytest.fixture
def admin(member_factory):
    return member_factory(Role.ADMIN, username="ada")


@pytest.fixture
def world(admin, default_tenant):
    """detector: 1.0.0 dormant (a blob shared with images 1.1.0, another its own), 1.1.0
    aliased, 1.2.0 pulled 10 days ago, 2.0.0 the newest; segmenter: 1.0.0 deployed, 1.1.0
    last pulled 200 days ago (one blob shared with the kept 2.0.0); ranker (production):
    1.0.0 trained on images 1.0.0; images: 1.0.0, 1.1.0 dormant, 2.0.0 the newest; fresh:
    1.0.0 created 30 days ago. Keep the newest 1, dormant after 180 days."""
    world = Tenancy(default_tenant, admin)
    with at(OLD):
        world.model("detector", ["1.0.0", "1.1.0", "1.2.0", "2.0.0"])
        world.model("segmenter", ["1.0.0", "1.1.0", "2.0.0"])
        world.model("ranker", ["1.0.0", "2.0.0"], status=Status.PRODUCTION)
        world.dataset("images", ["1.0.0", "1.1.0", "2.0.0"])
        fresh = world.model("fresh", ["2.0.0"])
        v = world.versions
        artifact_file(v["detector 1.0.0"], "shared.bin", SHARED)
        artifact_file(v["detector 1.0.0"], "model.onnx", DETECTOR_OWN)
        artifact_file(v["images 1.1.0"], "shared.bin", SHARED)
        artifact_file(v["images 1.1.0"], "images.zip", IMAGES_OWN)
        artifact_file(v["segmenter 1.1.0"], "base.bin", SEGMENTER_KEPT)
        artifact_file(v["segmenter 1.1.0"], "head.bin", SEGMENTER_OWN)
        artifact_file(v["segmenter 2.0.0"], "base.bin", SEGMENTER_KEPT)
        artifact_file(v["detector 1.2.0"], "model.onnx", b"detector 1.2.0")
        v["ranker 1.0.0"].dataset_versions.add(v["images 1.0.0"])
    with at(NOW - timedelta(days=30)):
        world.versions["fresh 1.0.0"] = ModelVersionFactory(model=fresh, version="1.0.0")
    with at(NOW - timedelta(days=200)):
        world.pull("segmenter 1.1.0")
    with at(NOW - timedelta(days=10)):
        world.pull("detector 1.2.0")
    registry_services.model_alias_set(actor=world.actor, model_id=v["detector 1.1.0"].model_id,
                                      alias="champion", version_id=v["detector 1.1.0"].pk)
    environment = deployment_services.environment_create(actor=world.actor, name="edge")
    deployment_services.inference_service_create(
        actor=world.actor, environment_id=environment.pk,
        model_version_id=v["segmenter 1.0.0"].pk, name="segmenter-edge")
    RetentionPolicy.objects.create(tenant=default_tenant, enabled=True, dormant_days=180,
                                   keep_newest=1)
    return world


def items_of(proposal: CleanupProposal) -> list[tuple]:
    return [(item.label, item.reason, item.size, item.reclaimable_bytes, item.state,
             item.skip_reason)
            for item in proposal.items.order_by("label")]


EXPECTED_ITEMS = [
    ("detector 1.0.0", "never pulled (created 2025-04-27), 3 newer versions",
     len(SHARED) + len(DETECTOR_OWN), len(SHARED) + len(DETECTOR_OWN), ItemState.PROPOSED, ""),
    ("images 1.1.0", "never pulled (created 2025-04-27), 1 newer version",
     len(SHARED) + len(IMAGES_OWN), len(IMAGES_OWN), ItemState.PROPOSED, ""),
    ("segmenter 1.1.0", "not pulled since 2025-11-13, 1 newer version",
     len(SEGMENTER_KEPT) + len(SEGMENTER_OWN), len(SEGMENTER_OWN), ItemState.PROPOSED, ""),
]

TOTAL_SIZE = 819  # 150 + 133, 150 + 85, 81 + 220
TOTAL_RECLAIMABLE = 588  # the shared blob once: 150 + 133, 85, 220


def propose() -> CleanupProposal:
    with at(NOW):
        proposals = services.proposals_propose()
    assert len(proposals) == 1
    return proposals[0]


def test_the_proposal_names_exactly_the_dormant_versions(world):
    proposal = propose()

    assert items_of(proposal) == EXPECTED_ITEMS
    assert (proposal.tenant, proposal.state, proposal.item_count, proposal.size,
            proposal.reclaimable_bytes) == (world.tenant, ProposalState.OPEN, 3, TOTAL_SIZE,
                                            TOTAL_RECLAIMABLE)
    assert list(AuditEntry.objects.filter(action="propose").values_list(
        "actor_kind", "actor_name", "object_id")) == [("system", "cleanup", str(proposal.pk))]


def test_nothing_is_proposed_until_the_policy_is_enabled(world):
    RetentionPolicy.objects.filter(tenant=world.tenant).update(enabled=False)
    with at(NOW):
        assert services.proposals_propose() == []
    assert CleanupProposal.objects.count() == 0
    assert RetentionPolicy(tenant=world.tenant).enabled is False


def test_a_version_already_proposed_is_not_proposed_again(world):
    propose()
    with at(NOW):
        assert services.proposals_propose() == []


def test_the_policy_scope_and_exclusions(world):
    RetentionPolicy.objects.filter(tenant=world.tenant).update(applies_to_datasets=False)
    ExcludedVersion.objects.create(tenant=world.tenant,
                                   model_version=world.versions["segmenter 1.1.0"])

    # The blob detector 1.0.0 shares with images 1.1.0, now kept, reclaims nothing.
    assert [(item[0], item[3]) for item in items_of(propose())] == [
        ("detector 1.0.0", len(DETECTOR_OWN))]


def test_dry_run_prints_the_proposal_and_writes_nothing(world, capsys):
    with at(NOW):
        call_command("cleanup", "propose", "--dry-run")

    out = capsys.readouterr().out
    assert CleanupProposal.objects.count() == 0
    assert ProposalItem.objects.count() == 0
    size, reclaimable = TOTAL_SIZE, TOTAL_RECLAIMABLE
    assert out.splitlines() == [
        f"Would write a proposal for default: 3 version(s), {filesizeformat(size)} ({size} "
        f"bytes), reclaiming {filesizeformat(reclaimable)} ({reclaimable} bytes).",
        f"  detector 1.0.0: never pulled (created 2025-04-27), 3 newer versions; "
        f"{len(SHARED) + len(DETECTOR_OWN)} bytes, {len(SHARED) + len(DETECTOR_OWN)} "
        "reclaimable",
        f"  images 1.1.0: never pulled (created 2025-04-27), 1 newer version; "
        f"{len(SHARED) + len(IMAGES_OWN)} bytes, {len(IMAGES_OWN)} reclaimable",
        f"  segmenter 1.1.0: not pulled since 2025-11-13, 1 newer version; "
        f"{len(SEGMENTER_KEPT) + len(SEGMENTER_OWN)} bytes, {len(SEGMENTER_OWN)} reclaimable",
    ]

    with at(NOW):
        call_command("cleanup", "propose", "--tenant", "default")
    assert items_of(CleanupProposal.objects.get()) == EXPECTED_ITEMS


def approve(world, proposal, item_ids=None):
    with at(NOW + timedelta(hours=1)):
        return services.proposal_approve(actor=world.actor, proposal_id=proposal.pk,
                                         item_ids=item_ids)


def test_approval_trashes_what_is_still_dormant_and_skips_what_is_in_use_now(world):
    proposal = propose()
    with at(NOW + timedelta(minutes=30)):
        world.pull("segmenter 1.1.0")
    before = metrics.CLEANUP_ITEMS.labels("trashed")._value.get()

    approved = approve(world, proposal)

    assert approved.state == ProposalState.APPROVED
    assert [(item[0], item[4], item[5]) for item in items_of(approved)] == [
        ("detector 1.0.0", ItemState.TRASHED, ""),
        ("images 1.1.0", ItemState.TRASHED, ""),
        ("segmenter 1.1.0", ItemState.SKIPPED, "pulled on 2026-06-01"),
    ]
    trashed_at = NOW + timedelta(hours=1)
    for label in ("detector 1.0.0", "images 1.1.0"):
        version = type(world.versions[label]).objects.get(pk=world.versions[label].pk)
        assert (version.trashed_at, version.purge_after) == (trashed_at,
                                                            trashed_at + timedelta(days=30))
        assert set(version.files.values_list("trashed_at", flat=True)) == {trashed_at}
    assert ModelVersion.objects.get(pk=world.versions["segmenter 1.1.0"].pk).trashed_at is None
    assert metrics.CLEANUP_ITEMS.labels("trashed")._value.get() == before + 2
    assert list(AuditEntry.objects.filter(action__in=["trash", "cleanup_skip", "approve"])
                .order_by("pk").values_list("action", "actor_kind", "object_name")) == [
        # Model versions first (as proposed), then dataset versions.
        ("trash", "system", "1.0.0"), ("cleanup_skip", "system", "segmenter 1.1.0"),
        ("trash", "system", "1.1.0"), ("approve", "user", str(proposal)),
    ]


def test_approval_skips_a_version_aliased_or_deployed_since(world):
    proposal = propose()
    v = world.versions
    registry_services.model_alias_set(actor=world.actor, model_id=v["detector 1.0.0"].model_id,
                                      alias="staging", version_id=v["detector 1.0.0"].pk)
    environment = deployment_services.environment_create(actor=world.actor, name="lab")
    deployment_services.inference_service_create(
        actor=world.actor, environment_id=environment.pk,
        model_version_id=v["segmenter 1.1.0"].pk, name="segmenter-lab")
    items = {item.label: item.pk for item in proposal.items.all()}

    approved = approve(world, proposal, [items["detector 1.0.0"], items["segmenter 1.1.0"]])

    assert approved.state == ProposalState.PARTIALLY_APPROVED
    assert [(item[0], item[4], item[5]) for item in items_of(approved)] == [
        ("detector 1.0.0", ItemState.SKIPPED, "holds the alias staging"),
        ("images 1.1.0", ItemState.PROPOSED, ""),
        ("segmenter 1.1.0", ItemState.SKIPPED,
         "served by the DEPLOYED inference service segmenter-lab"),
    ]
    assert ModelVersion.objects.filter(trashed_at__isnull=False).count() == 0


def test_approval_skips_a_dataset_version_in_the_lineage_of_a_model_in_production_now(world):
    proposal = propose()
    detector = world.versions["detector 2.0.0"]
    detector.dataset_versions.add(world.versions["images 1.1.0"])
    detector.model.status = Status.DEPLOY
    detector.model.save()
    item = proposal.items.get(label="images 1.1.0")

    approve(world, proposal, [item.pk])

    item.refresh_from_db()
    assert (item.state, item.skip_reason) == (
        ItemState.SKIPPED, "in the lineage of detector 2.0.0, which is in use")


def test_bad_approvals_change_nothing(world):
    proposal = propose()
    other = CleanupProposal.objects.create(tenant=TenantFactory(), dormant_days=1,
                                           keep_newest=1)
    foreign_item = ProposalItem.objects.create(
        proposal=other, label="x 1.0.0", version_created_at=OLD, newer_versions=1)
    excluded = proposal.items.get(label="images 1.1.0")
    services.item_exclude(actor=world.actor, item_id=excluded.pk)
    cases = [
        ({"proposal_id": other.pk}, "id", "not_found"),
        ({"proposal_id": proposal.pk, "item_ids": [foreign_item.pk]}, "itemIds", "not_found"),
        ({"proposal_id": proposal.pk, "item_ids": [excluded.pk]}, "itemIds",
         "item_not_proposed"),
    ]
    for kwargs, field, code in cases:
        with pytest.raises(CodedValidationError) as refused:
            services.proposal_approve(actor=world.actor, **kwargs)
        assert [error.code for error in refused.value.error_dict[field]] == [code]
    assert [item[4] for item in items_of(proposal)] == [
        ItemState.PROPOSED, ItemState.EXCLUDED, ItemState.PROPOSED]
    assert ModelVersion.objects.filter(trashed_at__isnull=False).count() == 0


def test_exclude_keeps_a_version_out_for_good(world):
    proposal = propose()
    item = proposal.items.get(label="segmenter 1.1.0")

    services.item_exclude(actor=world.actor, item_id=item.pk)

    item.refresh_from_db()
    assert item.state == ItemState.EXCLUDED
    assert list(ExcludedVersion.objects.values_list("model_version_id", flat=True)) == [
        world.versions["segmenter 1.1.0"].pk]
    approve(world, proposal)
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.APPROVED
    CleanupProposal.objects.all().delete()
    with at(NOW + timedelta(days=2)):
        later = services.proposals_propose()
    assert later == []  # the two others are in the trash, the third excluded


def _blob_keys() -> set[str]:
    return set(Blob.objects.values_list("storage_key", flat=True))


def stored(key: str) -> bool:
    try:
        backend().open(key).close()
    except FileNotFoundError:
        return False
    return True


def test_purge_after_the_window_reclaims_exactly_the_unshared_bytes(
        storage_backend, world, django_capture_on_commit_callbacks):
    proposal = propose()
    approve(world, proposal)
    v = world.versions
    detector_blobs = {file.blob.storage_key: file.blob.size for file in
                      ArtifactFile.objects.filter(model_version=v["detector 1.0.0"])}
    images = v["images 1.1.0"]
    with at(NOW + timedelta(days=3)):
        trash.version_restore(actor=world.actor, version=DatasetVersion.objects.get(
            pk=images.pk))
    reclaimed_before = metrics.CLEANUP_RECLAIMED_BYTES.labels("default")._value.get()

    with at(NOW + timedelta(days=29)):
        assert services.proposals_purge() == trash.PurgeResult()
    with at(NOW + timedelta(days=31)), django_capture_on_commit_callbacks(execute=True):
        result = services.proposals_purge()

    # detector 1.0.0's own blob goes, the one images 1.1.0 (restored) shares stays;
    # segmenter 1.1.0's own blob goes, the one segmenter 2.0.0 shares stays.
    reclaimed = len(DETECTOR_OWN) + len(SEGMENTER_OWN)
    assert result == trash.PurgeResult(versions=2, files=4, bytes_reclaimed=reclaimed)
    proposal.refresh_from_db()
    assert [(item.label, item.state, item.reclaimed_bytes) for item in
            proposal.items.order_by("label")] == [
        ("detector 1.0.0", ItemState.PURGED, len(DETECTOR_OWN)),
        ("images 1.1.0", ItemState.RESTORED, 0),
        ("segmenter 1.1.0", ItemState.PURGED, len(SEGMENTER_OWN))]
    assert (proposal.state, proposal.purged_versions, proposal.purged_files,
            proposal.reclaimed_bytes) == (ProposalState.PURGED, 2, 4, reclaimed)
    assert not ModelVersion.objects.filter(pk=v["detector 1.0.0"].pk).exists()
    kept = _blob_keys()
    for key, size in detector_blobs.items():
        assert stored(key) is (key in kept)
        assert (key in kept) is (size == len(SHARED))
    assert metrics.CLEANUP_RECLAIMED_BYTES.labels("default")._value.get() == (
        reclaimed_before + reclaimed)

    with at(NOW + timedelta(days=32)):  # a second run finds nothing and counts nothing
        assert services.proposals_purge() == trash.PurgeResult()
    proposal.refresh_from_db()
    assert (proposal.purged_versions, proposal.reclaimed_bytes) == (2, reclaimed)


def test_the_purge_job_restores_and_skips_a_version_whose_model_went_to_production(world):
    proposal = propose()
    approve(world, proposal)
    detector = world.versions["detector 1.0.0"].model
    detector.status = Status.PRODUCTION
    detector.save()

    with at(NOW + timedelta(days=20)):
        assert services.proposals_purge() == trash.PurgeResult()
    item = proposal.items.get(label="detector 1.0.0")
    assert (item.state, item.skip_reason) == (ItemState.SKIPPED,
                                              "its model's status is production")
    with at(NOW + timedelta(days=31)):
        result = services.proposals_purge()

    item = proposal.items.get(label="detector 1.0.0")
    assert (item.state, item.skip_reason) == (ItemState.SKIPPED,
                                              "its model's status is production")
    assert ModelVersion.objects.get(pk=world.versions["detector 1.0.0"].pk).trashed_at is None
    # images 1.1.0 and segmenter 1.1.0 go; the blob images 1.1.0 shared with the restored
    # detector 1.0.0 stays, and so does the one segmenter 1.1.0 shared with 2.0.0.
    assert result == trash.PurgeResult(versions=2, files=4,
                                       bytes_reclaimed=len(IMAGES_OWN) + len(SEGMENTER_OWN))


def test_a_version_in_use_again_after_its_window_is_still_taken_back(world):
    proposal = propose()
    approve(world, proposal)
    detector = world.versions["detector 1.0.0"].model
    with at(NOW + timedelta(days=40)):  # past the 30-day window; the purge has not run
        detector.status = Status.PRODUCTION
        detector.save()
        services.proposals_purge()

    item = proposal.items.get(label="detector 1.0.0")
    assert (item.state, item.skip_reason) == (ItemState.SKIPPED,
                                              "its model's status is production")
    assert ModelVersion.objects.get(pk=world.versions["detector 1.0.0"].pk).trashed_at is None
    assert list(AuditEntry.objects.filter(action="restore").values_list(
        "actor_kind", "actor_name", "object_name")) == [("system", "cleanup", "1.0.0")]


def test_an_interrupted_purge_resumes_and_counts_once(world, monkeypatch):
    proposal = propose()
    approve(world, proposal)
    calls = []
    real_purge = trash.version_purge

    def dies_on_the_second(version, **kwargs):
        calls.append(version.pk)
        if len(calls) == 2:
            raise SystemExit("worker killed")
        return real_purge(version, **kwargs)

    monkeypatch.setattr(trash, "version_purge", dies_on_the_second)
    with at(NOW + timedelta(days=31)), pytest.raises(SystemExit):
        services.proposals_purge()
    # The second item's transaction rolled back: its files and blobs are all there.
    segmenter = world.versions["segmenter 1.1.0"]
    assert proposal.items.get(label="segmenter 1.1.0").state == ItemState.TRASHED
    assert ArtifactFile.objects.filter(model_version=segmenter).count() == 2
    assert all(stored(file.blob.storage_key)
               for file in ArtifactFile.objects.filter(model_version=segmenter))
    monkeypatch.setattr(trash, "version_purge", real_purge)

    with at(NOW + timedelta(days=31)):
        services.proposals_purge()

    proposal.refresh_from_db()
    # Everything went, as proposed: the reclaimed bytes are the reclaimable ones.
    assert (proposal.state, proposal.purged_versions, proposal.purged_files,
            proposal.reclaimed_bytes) == (ProposalState.PURGED, 3, 6, TOTAL_RECLAIMABLE)


PROPOSALS = """query { cleanupProposals { totalCount edges { node { id state itemCount size
  reclaimableBytes items { edges { node { id label reason size reclaimableBytes state
  modelVersion { version } datasetVersion { version } } } } } } } }"""
APPROVE = """mutation($id: ID!, $items: [ID!]) { approveCleanupProposal(data: {id: $id,
  itemIds: $items}) { __typename ... on CleanupProposal { state }
  ... on OperationInfo { messages { code field } } } }"""
POLICY = """mutation($data: UpdateRetentionPolicyInput!) { updateRetentionPolicy(data: $data) {
  __typename ... on RetentionPolicy { enabled dormantDays keepNewest appliesToModels
  appliesToDatasets } ... on OperationInfo { messages { code field } } } }"""


def test_graphql_lists_and_approves_proposals(world):
    proposal = propose()
    client = graphql_client_for(world.admin)

    data = client(PROPOSALS).data["cleanupProposals"]

    assert data["totalCount"] == 1
    node = data["edges"][0]["node"]
    assert (node["id"], node["state"], node["itemCount"], node["reclaimableBytes"]) == (
        to_base64("CleanupProposal", proposal.pk), "OPEN", 3, proposal.reclaimable_bytes)
    assert [(edge["node"]["label"], edge["node"]["reason"], edge["node"]["size"],
             edge["node"]["reclaimableBytes"], edge["node"]["state"])
            for edge in node["items"]["edges"]] == [
        (label, reason, size, reclaimable, "PROPOSED")
        for label, reason, size, reclaimable, _, _ in EXPECTED_ITEMS]
    assert node["items"]["edges"][1]["node"]["datasetVersion"] == {"version": "1.1.0"}

    item = node["items"]["edges"][0]["node"]["id"]
    with at(NOW + timedelta(hours=1)):
        result = client(APPROVE, {"id": node["id"], "items": [item]}).data
    assert result == {"approveCleanupProposal": {"__typename": "CleanupProposal",
                                                 "state": "PARTIALLY_APPROVED"}}


def test_graphql_policy_defaults_validation_and_admins_only(world, member_factory):
    client = graphql_client_for(world.admin)
    RetentionPolicy.objects.all().delete()
    assert client("{ retentionPolicy { enabled dormantDays keepNewest } }").data == {
        "retentionPolicy": {"enabled": False, "dormantDays": 180, "keepNewest": 3}}

    refused = [client(POLICY, {"data": data}).data["updateRetentionPolicy"]["messages"]
               for data in [{"dormantDays": 0}, {"keepNewest": -1}, {"dormantDays": 4000}]]
    assert refused == [[{"code": "invalid_dormant_days", "field": "dormantDays"}],
                       [{"code": "invalid_keep_newest", "field": "keepNewest"}],
                       [{"code": "invalid_dormant_days", "field": "dormantDays"}]]
    assert RetentionPolicy.objects.count() == 0

    changed = client(POLICY, {"data": {"enabled": True, "dormantDays": 90}}).data
    assert changed["updateRetentionPolicy"] == {
        "__typename": "RetentionPolicy", "enabled": True, "dormantDays": 90, "keepNewest": 3,
        "appliesToModels": True, "appliesToDatasets": True}

    maintainer = graphql_client_for(member_factory(Role.MAINTAINER))
    assert maintainer("{ retentionPolicy { enabled } }").data == {"retentionPolicy": None}
    assert [message["code"] for message in maintainer(POLICY, {"data": {"enabled": False}})
            .data["updateRetentionPolicy"]["messages"]] == ["permission_denied"]
    assert RetentionPolicy.objects.get().enabled is True


def test_the_admin_shows_proposals_read_only_with_human_sizes(world, client):
    proposal = propose()
    world.admin.is_staff = True
    world.admin.save()
    client.force_login(world.admin)

    listing = client.get("/admin/cleanup/cleanupproposal/")
    page = client.get(f"/admin/cleanup/cleanupproposal/{proposal.pk}/change/")

    assert listing.status_code == page.status_code == 200
    assert filesizeformat(TOTAL_RECLAIMABLE) in page.content.decode()
    assert "never pulled (created 2025-04-27), 3 newer versions" in page.content.decode()
    assert client.post(f"/admin/cleanup/cleanupproposal/{proposal.pk}/change/",
                       {}).status_code == 403


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_purge_leaves_an_item_another_purge_holds_to_it(world):
    """PostgreSQL: the item row another purge has locked is skipped, not purged twice."""
    import threading

    from django.db import connection, transaction

    proposal = propose()
    approve(world, proposal)
    held = proposal.items.get(label="detector 1.0.0")
    locked, release = threading.Event(), threading.Event()

    def other_purge():
        with transaction.atomic():  # as _item_purge holds them: item, version, files
            ProposalItem.objects.select_for_update().get(pk=held.pk)
            ModelVersion.objects.select_for_update().get(pk=held.model_version_id)
            list(ArtifactFile.objects.select_for_update().filter(
                model_version_id=held.model_version_id))
            locked.set()
            release.wait(timeout=30)
        connection.close()

    thread = threading.Thread(target=other_purge)
    thread.start()
    locked.wait(timeout=30)
    try:
        with at(NOW + timedelta(days=31)):
            result = services.proposals_purge()
    finally:
        release.set()
        thread.join()

    held.refresh_from_db()
    assert held.state == ItemState.TRASHED
    assert result == trash.PurgeResult(versions=2, files=4,
                                       bytes_reclaimed=len(IMAGES_OWN) + len(SEGMENTER_OWN))
    with at(NOW + timedelta(days=31)):
        later = services.proposals_purge()
    # Its shared blob is reclaimed now: images 1.1.0, which shared it, went first.
    assert later == trash.PurgeResult(versions=1, files=2,
                                      bytes_reclaimed=len(SHARED) + len(DETECTOR_OWN))
    proposal.refresh_from_db()
    assert (proposal.state, proposal.purged_versions, proposal.reclaimed_bytes) == (
        ProposalState.PURGED, 3, TOTAL_RECLAIMABLE)


def test_the_beat_tasks_and_the_purge_command(world, capsys):
    from cleanup import tasks

    with at(NOW):
        assert tasks.propose_cleanup_task.delay().get() == {"proposals": 1, "items": 3}
    approve(world, CleanupProposal.objects.get())
    with at(NOW + timedelta(days=31)):
        assert tasks.purge_cleanup_task.delay().get() == {
            "versions": 3, "files": 6, "bytes_reclaimed": TOTAL_RECLAIMABLE}
        call_command("cleanup", "purge")
    assert capsys.readouterr().out == "Purged 0 version(s), 0 file(s); reclaimed 0\xa0bytes " \
                                      "(0 bytes).\n"
