import io
import os
import stat
import tarfile

import numpy as np
import pytest

from scanning.scanners import ScanLimits, Verdict
from tests.scanning import corpus
from tests.scanning.corpus import Member, codes, scan_bytes, worst_codes

# --- PyTorch checkpoints ------------------------------------------------------------------


def test_benign_checkpoint_is_clean():
    result = scan_bytes(corpus.benign_checkpoint(), name="model.pt")

    assert result.verdict == Verdict.CLEAN
    assert result.findings == []
    assert (result.scanner, result.detected_format) == ("pytorch", "pytorch")


def test_malicious_data_pkl_is_flagged():
    result = scan_bytes(corpus.malicious_checkpoint(), name="model.pt")

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.dangerous_global"}
    assert result.findings[0].location == "archive/data.pkl@offset 2"


def test_zip64_checkpoint_is_read():
    result = scan_bytes(corpus.malicious_checkpoint(zip64=True))

    assert result.detected_format == "pytorch"
    assert worst_codes(result) == {"pickle.dangerous_global"}


def test_zip64_end_records_are_used_even_with_unsaturated_fields():
    bad = corpus.call_pickle("os", "system", "x")

    result = scan_bytes(corpus.build_zip([Member("model.pkl", bad)], zip64_end=True))

    assert worst_codes(result) == {"pickle.dangerous_global"}


def _tamper_data_pkl(**changes):
    def tamper(members):
        for field, value in changes.items():
            setattr(members[0], field, value)

    return tamper


def test_bad_crc_does_not_stop_the_scan():
    result = scan_bytes(corpus.malicious_checkpoint(_tamper_data_pkl(crc=0xDEADBEEF)))

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.dangerous_global", "zip.crc_mismatch"}


def test_encryption_flag_does_not_stop_the_scan():
    result = scan_bytes(corpus.malicious_checkpoint(_tamper_data_pkl(flags=0x1)))

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.dangerous_global", "zip.encrypted_entry"}


def test_local_name_disguising_the_pickle_as_tensor_data():
    # PyTorch reads the central name (data.pkl); a streaming reader sees tensor data.
    tamper = _tamper_data_pkl(local_name="archive/data/9")

    result = scan_bytes(corpus.malicious_checkpoint(tamper))

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.dangerous_global", "zip.name_mismatch"}


def test_central_name_disguising_the_pickle_as_tensor_data():
    # The reverse: the central directory says tensor data, the local header data.pkl.
    def tamper(members):
        members[0].name, members[0].local_name = "archive/data/9", "archive/data.pkl"

    result = scan_bytes(corpus.malicious_checkpoint(tamper))

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"pickle.dangerous_global", "zip.name_mismatch"}


def test_pickle_hidden_as_a_tensor_data_member_is_found():
    def tamper(members):
        members[2].data = corpus.reduce_pickle(os.system, "echo pwned", protocol=2)

    data = corpus.torch_checkpoint(
        corpus.torch_state_dict_pickle([corpus.Tensor("w", "0", (2,))]),
        {"0": b""},
        tamper=tamper,
    )

    result = scan_bytes(data)

    assert result.verdict == Verdict.FLAGGED
    assert [(f.code, f.location) for f in result.findings] == [
        ("pickle.dangerous_global", "archive/data/0@offset 2")
    ]


def test_pickle_under_an_innocent_member_name_is_found():
    def tamper(members):
        members.append(Member("archive/extra/notes.txt", corpus.call_pickle("os", "system", "x")))

    result = scan_bytes(corpus.malicious_checkpoint(tamper))

    assert {f.location.split("@")[0] for f in result.findings} == {
        "archive/data.pkl",
        "archive/extra/notes.txt",
    }


def test_only_the_pickle_members_of_a_big_checkpoint_are_read():
    tensor_bytes = 64 * 2**20
    data = corpus.benign_checkpoint(tensor_bytes=tensor_bytes)
    stream = corpus.CountingReader(data)

    result = corpus.scan_counting(stream, name="big.pt")

    assert result.verdict == Verdict.CLEAN
    assert stream.bytes_read < tensor_bytes // 100


def test_random_tensor_bytes_are_not_mistaken_for_pickles():
    # Float data whose bytes happen to start like a pickle protocol header.
    rng = np.random.default_rng(7)
    tensors = {str(key): b"\x80\x02" + rng.bytes(4094) for key in range(50)}
    specs = [corpus.Tensor(f"t{key}", key, (1024,)) for key in tensors]

    result = scan_bytes(corpus.torch_checkpoint(corpus.torch_state_dict_pickle(specs), tensors))

    assert result.verdict == Verdict.CLEAN
    assert result.findings == []


# --- zip structure --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../evil", "/etc/passwd", "C:/Windows/evil.dll", "weights/../../evil"]
)
def test_zip_slip(name):
    result = scan_bytes(corpus.build_zip([Member(name, b"data")]))

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"archive.path_traversal"}
    assert result.findings[0].location == f"entry {name}"


def test_backslash_traversal():
    result = scan_bytes(corpus.build_zip([Member("..\\evil.bat", b"data")]))

    assert worst_codes(result) == {"archive.path_traversal", "archive.suspicious_path"}


def test_zip_symlink_escaping_the_archive():
    link = Member("weights", b"/etc/passwd", unix_mode=stat.S_IFLNK | 0o777)

    result = scan_bytes(corpus.build_zip([link]))

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"archive.link_escape"}


def test_zip_bomb_by_compression_ratio():
    data = corpus.zip_bomb()
    assert len(data) < 100_000

    result = scan_bytes(data)

    assert result.verdict == Verdict.FLAGGED
    assert worst_codes(result) == {"archive.bomb"}


def test_zip_bomb_by_forged_sizes():
    result = scan_bytes(corpus.forged_size_zip())

    # The header is flagged (HIGH) and that decides, though the member, shorter than it
    # claims, cannot be read.
    assert result.verdict == Verdict.FLAGGED
    assert codes(result) == {"archive.bomb", "zip.corrupt"}


def test_zip_bomb_by_total_size():
    members = [Member(f"part{n}.bin", bytes(100), method=corpus.DEFLATED) for n in range(3)]

    result = scan_bytes(corpus.build_zip(members), limits=ScanLimits(max_total_uncompressed=250))

    assert worst_codes(result) == {"archive.bomb"}


def test_too_many_entries_is_an_error():
    members = [Member(f"file{n}.txt", b"x") for n in range(5)]

    result = scan_bytes(corpus.build_zip(members), limits=ScanLimits(max_archive_entries=3))

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"archive.too_many_entries"}


def test_nested_archives_are_scanned_up_to_the_limit():
    bad = corpus.reduce_pickle(os.system, "echo pwned", protocol=2)
    inner = corpus.build_zip([Member("model.pkl", bad)])

    within = scan_bytes(corpus.nested_zip(2, inner))
    beyond = scan_bytes(corpus.nested_zip(3, inner))

    assert within.verdict == Verdict.FLAGGED
    assert [f.location for f in within.findings] == ["level1.zip!level0.zip!model.pkl@offset 2"]
    assert beyond.verdict == Verdict.ERROR
    assert codes(beyond) == {"archive.nesting_too_deep"}


def test_deflated_nested_zip_is_opened():
    bad = corpus.build_zip([Member("model.pkl", corpus.call_pickle("os", "system", "x"))])
    data = corpus.build_zip([Member("inner.zip", bad, method=corpus.DEFLATED)])

    result = scan_bytes(data)

    assert [(f.code, f.location) for f in result.findings] == [
        ("pickle.dangerous_global", "inner.zip!model.pkl@offset 2")
    ]


def test_corrupt_zip_is_an_error():
    data = corpus.benign_checkpoint()
    truncated = data[:100] + data[-22:]  # the end record points at a missing directory

    result = scan_bytes(truncated)

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"zip.corrupt"}


def test_deflated_pickle_member_is_inflated_and_scanned():
    bad = corpus.reduce_pickle(os.system, "echo pwned", protocol=4)

    result = scan_bytes(corpus.build_zip([Member("model.pkl", bad, method=corpus.DEFLATED)]))

    assert worst_codes(result) == {"pickle.dangerous_global"}


def test_pickle_followed_by_a_zip_is_scanned_as_both():
    bad_zip = corpus.build_zip([Member("inner.pkl", corpus.call_pickle("os", "system", "x"))])
    # torch.load unpickles it (no zip magic first); zipfile opens the zip (found by its end).
    data = corpus.reduce_pickle(eval, "1", protocol=2) + bad_zip

    result = scan_bytes(data)

    assert result.scanner == "pickle"
    assert result.verdict == Verdict.FLAGGED
    assert {(f.code, f.location.split("@")[0]) for f in result.findings} >= {
        ("pickle.dangerous_global", "<stream>"),
        ("pickle.dangerous_global", "inner.pkl"),
        ("format.polyglot", "<stream>"),
    }


# --- tar and compressed files ----------------------------------------------------------------


def test_tar_symlink_escape_and_write_through_it():
    result = scan_bytes(corpus.symlink_escape_tar())

    assert result.verdict == Verdict.FLAGGED
    assert (result.scanner, result.detected_format) == ("archive", "tar")
    assert [(f.code, f.location) for f in result.findings] == [
        ("archive.link_escape", "entry config"),
        ("archive.write_through_link", "entry config/cron.d/evil"),
    ]


def test_tar_hard_link_out_of_the_archive():
    link = tarfile.TarInfo("passwd")
    link.type, link.linkname = tarfile.LNKTYPE, "../../etc/passwd"

    assert worst_codes(scan_bytes(corpus.build_tar([link]))) == {"archive.link_escape"}


def test_tar_device_and_fifo_entries():
    device, fifo = tarfile.TarInfo("dev/sda"), tarfile.TarInfo("pipe")
    device.type, fifo.type = tarfile.BLKTYPE, tarfile.FIFOTYPE

    result = scan_bytes(corpus.build_tar([device, fifo]))

    assert [f.code for f in result.findings] == ["archive.special_file"] * 2


def test_tar_traversal():
    result = scan_bytes(corpus.build_tar([("../../evil.sh", b"echo")]))

    assert worst_codes(result) == {"archive.path_traversal"}


def test_internal_tar_symlink_is_only_noted():
    result = scan_bytes(corpus.build_tar([("a/real.txt", b"x"), corpus.symlink("b", "a")]))

    assert result.verdict == Verdict.CLEAN
    assert codes(result) == {"archive.link"}


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_pickles_inside_tars_are_scanned(mode):
    bad = corpus.reduce_pickle(os.system, "echo pwned", protocol=2)
    data = corpus.build_tar([("model/README.md", corpus.TEXT), ("model/weights.pkl", bad)], mode)

    result = scan_bytes(data)

    assert result.verdict == Verdict.FLAGGED
    assert [(f.code, f.location) for f in result.findings] == [
        ("pickle.dangerous_global", "model/weights.pkl@offset 2")
    ]


def test_gzipped_pickle_is_scanned():
    import gzip

    data = gzip.compress(corpus.reduce_pickle(os.system, "echo pwned", protocol=4))

    result = scan_bytes(data, name="model.pkl.gz")

    assert (result.scanner, result.detected_format) == ("archive", "gzip")
    assert worst_codes(result) == {"pickle.dangerous_global"}
    assert result.findings[0].location.startswith("model.pkl.gz (decompressed)@offset")


def test_gzip_bomb_is_stopped_while_it_inflates():
    import gzip

    result = scan_bytes(gzip.compress(bytes(20 * 2**20)))

    assert result.verdict == Verdict.FLAGGED
    assert codes(result) == {"archive.bomb"}


def test_tar_bomb_by_declared_sizes():
    data = corpus.build_tar([("a.bin", bytes(600)), ("b.bin", bytes(600))])

    result = scan_bytes(data, limits=ScanLimits(max_total_uncompressed=1000))

    assert worst_codes(result) == {"archive.bomb"}


def test_truncated_tar_is_an_error():
    data = corpus.build_tar([("weights.bin", bytes(5000))])[:2048]

    result = scan_bytes(data)

    assert result.verdict == Verdict.ERROR
    assert codes(result) == {"tar.corrupt"}


def test_benign_tar_gz_of_a_model_folder_is_clean():
    members = [
        ("model/config.json", b'{"hidden_size": 8}'),
        ("model/model.safetensors", corpus.safetensors_file()),
        ("model/arr.npy", corpus.npy(np.arange(3.0))),
    ]

    result = scan_bytes(corpus.build_tar(members, "w:gz"))

    assert result.verdict == Verdict.CLEAN
    assert result.findings == []
    assert result.detected_format == "tar.gz"


def test_stream_without_file_descriptor_is_enough():
    stream = corpus.CountingReader(corpus.benign_checkpoint())

    with pytest.raises(io.UnsupportedOperation):
        stream.fileno()
    assert corpus.scan_counting(stream).verdict == Verdict.CLEAN


def test_tar_of_a_vocabulary_and_a_zip_is_clean():
    # A tar can parse as a pickle (a member name starting with "V" reads as a string) and ends
    # with its last member: neither is a polyglot worth flagging.
    inner = corpus.build_zip([Member("x.txt", b"hi")])
    data = corpus.build_tar([("Vocab.txt", b"hello\n.\nworld\n"), ("b.zip", inner)])

    result = scan_bytes(data)

    assert (result.verdict, result.findings) == (Verdict.CLEAN, [])


def test_hdf5_behind_a_pickle_user_block_is_scanned():
    user_block = corpus.call_pickle("os", "system", "x").ljust(512, b" ")
    data = user_block + corpus.keras_h5(with_lambda=True)

    result = scan_bytes(data)

    assert result.scanner == "pickle"
    assert codes(result) >= {"pickle.dangerous_global", "format.polyglot", "keras.lambda_layer"}


def test_bomb_members_are_not_inflated_into_copies(monkeypatch):
    # A bomb that starts like a zip would otherwise be spooled whole to be opened.
    bomb = b"PK\x03\x04" + bytes(50 * 2**20)
    data = corpus.build_zip([Member("inner.zip", bomb, method=corpus.DEFLATED)])

    def refuse(*args):
        raise AssertionError("a bomb member was spooled")

    monkeypatch.setattr("scanning.scanners.blob.spool", refuse)
    result = scan_bytes(data)

    assert (result.verdict, codes(result)) == (Verdict.FLAGGED, {"archive.bomb"})
