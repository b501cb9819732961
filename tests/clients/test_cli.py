"""`registry` end to end against a live server: push, pull into a deployment folder, refusals
and exit codes, resumed transfers."""

import dataclasses
import hashlib
import json
import os
import pickle
import signal
import subprocess
import time

import pytest
from registry_client import Client, NotDownloadableError, verify_folder
from registry_client.errors import IntegrityError

from registry.models import ArtifactFile, ModelVersion, RegisteredModel, ScanStatus, UploadSession
from tests.clients.conftest import CLIENT_DIR, COMMAND
from tests.conftest import SERVICES
from tests.scanning.corpus import call_pickle

pytestmark = pytest.mark.django_db(transaction=True)
MiB = 2**20


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def release(tmp_path):
    """A folder to push: a small config and a 16 MiB weights file (three parts of at least
    5 MiB)."""
    folder = tmp_path / "release"
    (folder / "labels").mkdir(parents=True)
    (folder / "labels" / "coco.txt").write_bytes(b"person\ncar\n")
    (folder / "model.bin").write_bytes(os.urandom(16 * MiB))
    return folder


def test_push_then_pull_into_the_evam_layout(cli, release, tmp_path):
    pushed = cli("push", "detector", "1.0.0", str(release), "--create", "--precision", "FP16",
                 "--project", "vision", "--tag", "edge", "--metadata", "team=perception",
                 "--wait", "--part-size", "5", "--small-file-limit", "1", "--json")

    assert pushed.code == 0, pushed.stderr
    summary = json.loads(pushed.stdout)
    weights = (release / "model.bin").read_bytes()
    assert {f["path"]: (f["size"], f["sha256"], f["scan_status"]) for f in summary["files"]} == {
        "labels/coco.txt": (11, sha(b"person\ncar\n"), "CLEAN"),
        "model.bin": (16 * MiB, sha(weights), "CLEAN"),
    }
    assert summary["stats"]["parts_sent"] == 3 and summary["stats"]["parts_skipped"] == 0
    model = RegisteredModel.objects.get(name="detector")
    assert (model.project_name, [t.name for t in model.tags.all()]) == ("vision", ["edge"])
    version = ModelVersion.objects.get(model=model)
    assert (version.version, version.precision) == ("1.0.0", "FP16")
    assert UploadSession.objects.get().state == "completed"

    pulled = cli("pull", "detector", "1.0.0", "--dir", str(tmp_path / "models"), "--json")

    assert pulled.code == 0, pulled.stderr
    deployment = tmp_path / "models" / "detector_m-1.0.0_FP16" / "deployment"
    assert json.loads(pulled.stdout)["path"] == str(deployment)
    assert (deployment / "model.bin").read_bytes() == weights
    assert (deployment / "labels" / "coco.txt").read_bytes() == b"person\ncar\n"
    lock = json.loads((deployment / "registry.lock").read_text())
    assert {k: lock[k] for k in ("model", "projectName", "version", "precision")} == {
        "model": "detector", "projectName": "vision", "version": "1.0.0", "precision": "FP16"}
    assert lock["files"] == [
        {"path": "labels/coco.txt", "size": 11, "sha256": sha(b"person\ncar\n")},
        {"path": "model.bin", "size": 16 * MiB, "sha256": sha(weights)},
    ]
    assert verify_folder(deployment) == []
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["detector_m-1.0.0_FP16"]

    again = cli("pull", "detector", "1.0.0", "--dir", str(tmp_path / "models"), "--json")
    assert again.code == 0, again.stderr
    assert json.loads(again.stdout)["stats"]["bytes_received"] == 0
    assert json.loads(again.stdout)["stats"]["files_skipped"] == 2

    repushed = cli("push", "detector", "1.0.0", str(release), "--json")
    assert repushed.code == 0, repushed.stderr
    assert json.loads(repushed.stdout)["stats"]["files_skipped"] == 2
    assert ArtifactFile.objects.count() == 2


def test_flat_layout_alias_and_and_query_pick_the_newest_match(sdk, cli, tmp_path):
    weights = tmp_path / "w.bin"
    for version, precision, content in (("1.0.0", "FP16", b"a"), ("1.1.0", "FP16", b"b"),
                                        ("2.0.0", "INT8", b"c")):
        weights.write_bytes(content * 1000)
        sdk.push("det", version, [weights], create=True, precision=precision)

    by_query = cli("pull", "--name", "det", "--precision", "FP16", "--layout", "flat",
                   "--dir", str(tmp_path / "fp16"), "--json")

    assert by_query.code == 0, by_query.stderr
    assert json.loads(by_query.stdout)["version"] == "1.1.0"
    assert (tmp_path / "fp16" / "w.bin").read_bytes() == b"b" * 1000

    model = RegisteredModel.objects.get(name="det")
    sdk.mutate("setModelAlias", "modelId: $m, alias: \"production\", versionId: $v",
               "... on ModelAlias { name }",
               {"m": sdk.model("det")["id"],
                "v": sdk.find_version(name="det", version="1.0.0").id,
                "__types": {"m": "ID!", "v": "ID!"}})
    by_alias = cli("pull", "det@production", "--dir", str(tmp_path / "evam"), "--json")
    assert by_alias.code == 0, by_alias.stderr
    assert (tmp_path / "evam" / "det_m-1.0.0_FP16" / "deployment" / "w.bin").read_bytes() \
        == b"a" * 1000
    assert model.versions.count() == 3

    config = tmp_path / "evam.json"
    config.write_text(json.dumps({
        "model_registry": {"url": sdk.url, "request_timeout": 30,
                           "saved_models_dir": str(tmp_path / "saved")},
        "model_params": [{"name": "det", "project_name": None, "precision": "INT8"}]}))
    by_config = cli("pull", "--config", str(config), "--json")
    assert by_config.code == 0, by_config.stderr
    assert (tmp_path / "saved" / "det_m-2.0.0_INT8" / "deployment" / "w.bin").read_bytes() \
        == b"c" * 1000


def test_a_flagged_file_fails_push_wait_and_pull_with_exit_3(cli, tmp_path):
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(call_pickle("os", "system", "echo pwned"))

    pushed = cli("push", "bad", "1.0.0", str(evil), "--create", "--wait")

    assert pushed.code == 3, pushed.stderr
    assert "evil.pkl: FLAGGED" in pushed.stderr
    assert ArtifactFile.objects.get().scan_status == ScanStatus.FLAGGED

    pulled = cli("pull", "bad", "1.0.0", "--dir", str(tmp_path / "out"))

    assert pulled.code == 3
    assert "not downloadable" in pulled.stderr and "evil.pkl: FLAGGED" in pulled.stderr
    assert not (tmp_path / "out").exists()
    report = cli("scan-report", "bad", "1.0.0", "--json")
    assert report.code == 3
    assert json.loads(report.stdout)[0]["verdict"] == "FLAGGED"


def test_a_pending_file_is_refused_and_the_servers_404_is_surfaced(sdk, cli, tmp_path):
    weights = tmp_path / "w.bin"
    weights.write_bytes(pickle.dumps([1, 2, 3]))
    version, _ = sdk.push("pend", "1.0.0", [weights], create=True)
    ArtifactFile.objects.update(scan_status=ScanStatus.PENDING)

    pulled = cli("pull", "pend", "1.0.0", "--dir", str(tmp_path / "out"))

    assert pulled.code == 3
    assert "w.bin: PENDING" in pulled.stderr
    # A client that believes the file clean still gets no bytes: the server answers 404.
    stale = dataclasses.replace(version, files=[dataclasses.replace(version.files[0],
                                                                    scan_status="CLEAN")])
    with pytest.raises(NotDownloadableError) as refused:
        sdk.pull(stale, tmp_path / "direct")
    assert refused.value.exit_code == 3 and "404" in str(refused.value)
    assert not (tmp_path / "direct").exists()


def test_bad_and_read_only_tokens_exit_4_and_change_nothing(cli, reader_token, release):
    bad = cli("whoami", token="rgk_notatoken_000")
    assert bad.code == 4 and "invalid_token" in bad.stderr

    read_only = cli("push", "detector", "1.0.0", str(release), "--create", token=reader_token)
    assert read_only.code == 4 and "read_only_token" in read_only.stderr
    assert RegisteredModel.objects.count() == 0

    ok = cli("whoami", "--json", token=reader_token)
    assert ok.code == 0 and json.loads(ok.stdout)["user"]["username"] == "pusher"


def test_usage_and_not_found_exit_codes(cli, tmp_path):
    assert cli("pull").code == 1
    assert cli("pull", "nothing", "1.0.0", "--dir", str(tmp_path)).code == 2
    assert cli("push", "nothing", "1.0.0", str(tmp_path)).code == 1  # no files in it
    (tmp_path / "f").write_bytes(b"x")
    missing = cli("push", "nothing", "1.0.0", str(tmp_path / "f"))
    assert missing.code == 2 and "--create" in missing.stderr
    unreachable = cli("whoami", REGISTRY_URL="http://127.0.0.1:9")
    assert unreachable.code == 5


def test_login_keeps_tokens_in_a_0600_file(cli, writer_token, tmp_path):
    logged = cli("login", "-u", "pusher", token=None, REGISTRY_PASSWORD="correct horse battery")
    assert logged.code == 0, logged.stderr
    stored = tmp_path / "config" / "config.json"
    assert stored.stat().st_mode & 0o777 == 0o600
    assert json.loads(stored.read_text())["token"].startswith("rga_")
    who = cli("whoami", token=None)
    assert who.code == 0 and "pusher" in who.stdout

    wrong = cli("login", "-u", "pusher", token=None, REGISTRY_PASSWORD="wrong")
    assert wrong.code == 4 and "invalid_credentials" in wrong.stderr


def test_an_interrupted_push_resends_only_missing_parts(sdk, tmp_path):
    weights = tmp_path / "big.bin"
    weights.write_bytes(os.urandom(26 * MiB))  # five parts: four of 5.2 MiB and the rest
    sdk.parallel = 1
    sent = []

    def stop_after_two(path, number):
        sent.append(number)
        if len(sent) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sdk.push("big", "1.0.0", [weights], create=True, on_part=stop_after_two)
    assert ArtifactFile.objects.count() == 0
    session = UploadSession.objects.get()
    assert (session.state, session.part_count) == ("open", 5)

    resent = []
    version, stats = sdk.push("big", "1.0.0", [weights],
                              on_part=lambda path, number: resent.append(number))

    # Parts 1 and 2 arrived before the interruption (a part already on its way may have
    # too): only the others are sent again, and every part is sent once in all.
    assert 1 not in resent and 2 not in resent and len(resent) in (2, 3)
    assert sorted(resent) == list(range(6 - len(resent), 6))
    assert (stats.parts_sent, stats.parts_skipped) == (len(resent), 5 - len(resent))
    assert stats.bytes_sent == 26 * MiB - (5 - len(resent)) * session.part_size
    assert [(f.path, f.sha256) for f in version.files] == [("big.bin",
                                                            sha(weights.read_bytes()))]
    assert UploadSession.objects.get().state == "completed"
    assert json.loads((tmp_path / "state" / "uploads.json").read_text()) == {}


def test_an_interrupted_pull_resumes_and_a_corrupt_part_is_discarded(sdk, tmp_path):
    weights = tmp_path / "w.bin"
    content = os.urandom(3 * MiB)
    weights.write_bytes(content)
    version, _ = sdk.push("resume", "1.0.0", [weights], create=True)
    version = sdk.wait_for_scan(version.id)
    dest = tmp_path / "out"
    staging = tmp_path / ".out.registry-partial"
    staging.mkdir()
    (staging / ".registry-version").write_text(version.id)
    (staging / "w.bin.part").write_bytes(content[:MiB])

    result = sdk.pull(version, dest)

    assert result.stats.bytes_received == 2 * MiB
    assert (dest / "w.bin").read_bytes() == content
    assert not staging.exists()

    other = tmp_path / "other"
    staging = tmp_path / ".other.registry-partial"
    staging.mkdir()
    (staging / ".registry-version").write_text(version.id)
    (staging / "w.bin.part").write_bytes(b"\0" * MiB)  # not the file's first MiB
    with pytest.raises(IntegrityError):
        sdk.pull(version, other)
    assert not other.exists() and not (staging / "w.bin.part").exists()
    assert sdk.pull(version, other).stats.bytes_received == 3 * MiB
    assert (other / "w.bin").read_bytes() == content


def test_listing_commands_print_tables_and_json(sdk, cli, tmp_path):
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w" * 100)
    sdk.push("lister", "1.0.0", [weights], create=True, precision="FP32",
             project_name="vision", tags=["edge"])

    table = cli("ls")
    assert table.code == 0 and "lister" in table.stdout and "edge" in table.stdout
    models = json.loads(cli("ls", "--json").stdout)
    assert [(m["name"], m["projectName"], m["latestVersion"]["version"]) for m in models] == [
        ("lister", "vision", "1.0.0")]
    versions = json.loads(cli("ls", "lister", "--json").stdout)["versions"]["edges"]
    assert [v["node"]["version"] for v in versions] == ["1.0.0"]
    assert [m["name"] for m in json.loads(cli("search", "lister", "--json").stdout)] == ["lister"]
    info = json.loads(cli("info", "lister", "1.0.0", "--json").stdout)
    assert [(f["path"], f["size"], f["sha256"]) for f in info["files"]] == [
        ("w.bin", 100, sha(b"w" * 100))]
    assert cli("info", "lister", "9.9.9").code == 2
    tokens = json.loads(cli("tokens", "--json").stdout)
    assert [(t["name"], t["scopes"]) for t in tokens] == [("ci-read-write", ["READ", "WRITE"])]
    # Making tokens takes the ADMIN scope: a READ+WRITE token is refused, nothing made.
    refused = cli("tokens", "create", "--name", "more", "--scope", "read")
    assert refused.code == 4
    assert len(json.loads(cli("tokens", "--json").stdout)) == 1


def test_an_expired_login_is_refreshed_and_saved(cli, tmp_path):
    assert cli("login", "-u", "pusher", token=None,
               REGISTRY_PASSWORD="correct horse battery").code == 0
    stored = tmp_path / "config" / "config.json"
    before = json.loads(stored.read_text())
    stored.write_text(json.dumps({**before, "expires_at": "2000-01-01T00:00:00+00:00"}))

    who = cli("whoami", token=None)

    assert who.code == 0 and "pusher" in who.stdout
    after = json.loads(stored.read_text())
    assert after["token"] != before["token"] and after["refresh_token"] != before["refresh_token"]
    assert after["expires_at"] > "2001"
    assert stored.stat().st_mode & 0o777 == 0o600


def test_a_push_interrupted_midway_resumes_without_resending_parts(cli, slow_proxy, tmp_path):
    if SERVICES:
        pytest.skip("part URLs go straight to S3, past the throttling proxy; "
                    "test_an_interrupted_push_resends_only_missing_parts covers S3")
    weights = tmp_path / "big.bin"
    weights.write_bytes(os.urandom(40 * MiB))  # 8 parts of 5 MiB
    arguments = ("push", "big", "1.0.0", str(weights), "--create", "--part-size", "5",
                 "--small-file-limit", "1", "--parallel", "1", "--json", "-q")
    environment = {**os.environ, "PYTHONPATH": str(CLIENT_DIR), "REGISTRY_URL": slow_proxy.url,
                   "REGISTRY_CONFIG_DIR": str(tmp_path / "config"),
                   "REGISTRY_TOKEN": cli.token}
    # A suite started in the background (`nohup … &`) inherits SIGINT ignored, and Python
    # then never raises KeyboardInterrupt: the push gets Ctrl-C's default back.
    push = subprocess.Popen(["env", "--default-signal=INT", *COMMAND, *arguments],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)
    state = tmp_path / "config" / "uploads.json"
    held = []
    with Client(cli.server, cli.token) as client:

        def parts_on_server() -> list[int]:
            if not state.exists() or not json.loads(state.read_text()):
                return []
            [upload_id] = json.loads(state.read_text()).values()
            node = client.graphql("query($id: ID!) { node(id: $id) { ... on UploadSession { "
                                  "uploadedParts { partNumber } } } }", {"id": upload_id})
            return [part["partNumber"] for part in node["node"]["uploadedParts"]]

        deadline = time.monotonic() + 120
        while len(held) < 2 and time.monotonic() < deadline and push.poll() is None:
            held = parts_on_server()
            time.sleep(0.05)
        push.send_signal(signal.SIGINT)  # Ctrl-C with two parts on the server
        _, stderr = push.communicate(timeout=120)

        assert push.returncode == 130, stderr
        assert "resume" in stderr
        held = parts_on_server()
    assert ArtifactFile.objects.count() == 0
    assert UploadSession.objects.get().part_count == 8 and 2 <= len(held) < 8

    resumed = cli("push", "big", "1.0.0", str(weights), "--part-size", "5",
                  "--small-file-limit", "1", "--parallel", "1", "--json", "-q",
                  REGISTRY_URL=slow_proxy.url)  # the upload is remembered per server URL

    assert resumed.code == 0, resumed.stderr
    stats = json.loads(resumed.stdout)["stats"]
    assert (stats["parts_skipped"], stats["parts_sent"]) == (len(held), 8 - len(held))
    assert [(f["path"], f["sha256"]) for f in json.loads(resumed.stdout)["files"]] == [
        ("big.bin", sha(weights.read_bytes()))]
    assert UploadSession.objects.get().state == "completed"
