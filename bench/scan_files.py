"""Scanner benchmark: a multi-GB PyTorch checkpoint, many small files, the blind-spot classes
of issue 21 and the memory of a scan of a big plain zip.

    .venv/bin/python bench/scan_files.py [--size-gib 2] [--memory-gib 1] [--workdir DIR]

Writes a PyTorch-layout checkpoint (a stored zip: archive/data.pkl plus a few big tensor data
members, written in chunks with constant memory), then measures in the same run hashlib.sha256
over the file (the baseline: what the registry pays anyway to verify an upload) and scan_stream
over it. The scan should read the pickle, not the tensors, so it should cost a small fraction of
the hash. Then scans 1,000 small files (pickles, .npy, text) one by one for a files/s figure.
Then scans one malicious sample and one benign look-alike per blind-spot class and checks
their verdicts, and scans a plain zip of --memory-gib GiB (text members without newlines,
deflated, and random stored members: what made the scan hold whole members in memory) in a
child process, reporting its peak RSS. Temporary files are removed at the end.
"""

import argparse
import base64
import hashlib
import io
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import describe_machine  # noqa: E402  (bench/ is the script's folder)

from scanning.scanners import SCANNER_VERSION, Verdict, scan_stream  # noqa: E402
from tests.scanning import corpus  # noqa: E402

CHUNK = 1 << 20
TENSOR_MEMBERS = 4
SMALL_FILES = 1000


class CountingFile(io.RawIOBase):
    """Passes reads through to a file and counts the bytes the scanner asked for."""

    def __init__(self, file: io.BufferedReader) -> None:
        self._file = file
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer) -> int:  # noqa: ANN001 - any writable buffer
        count = self._file.readinto(buffer)
        self.bytes_read += count
        return count


def write_checkpoint(path: Path, size: int) -> None:
    """A torch.save-style zip with TENSOR_MEMBERS float32 tensors of size/TENSOR_MEMBERS bytes."""
    member_size = size // TENSOR_MEMBERS // 4 * 4
    tensors = [corpus.Tensor(f"layer{n}.weight", str(n), (member_size // 4,)) for n in range(4)]
    block = np.random.default_rng(0).standard_normal(CHUNK // 4, dtype=np.float32).tobytes()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", corpus.torch_state_dict_pickle(tensors))
        archive.writestr("archive/byteorder", "little")
        for tensor in tensors:
            info = zipfile.ZipInfo(f"archive/data/{tensor.key}")
            info.file_size = member_size  # lets zipfile choose zip64 when a member needs it
            with archive.open(info, "w") as member:
                remaining = member_size
                while remaining:
                    chunk = block[: min(CHUNK, remaining)]
                    member.write(chunk)
                    remaining -= len(chunk)
        archive.writestr("archive/version", "3\n")


def sha256_seconds(path: Path) -> float:
    started = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return time.perf_counter() - started


def small_samples() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(1)
    samples = []
    for n in range(SMALL_FILES):
        kind = n % 5
        if kind == 0:
            data = pickle.dumps({"step": n, "loss": float(n) / 7, "tags": ["a", "b"]}, 2 + n % 4)
        elif kind == 1:
            data = corpus.call_pickle("os", "system", f"echo {n}", protocol=n % 5)
        elif kind == 2:
            data = corpus.npy(rng.standard_normal((16, 16)).astype(np.float32))
        elif kind == 3:
            data = pickle.dumps(rng.standard_normal(256), protocol=5)
        else:
            data = corpus.TEXT * (1 + n % 20)
        samples.append((f"file{n:04d}", data))
    return samples


def bench_small_files(folder: Path) -> None:
    samples = small_samples()
    for name, data in samples:
        (folder / name).write_bytes(data)
    verdicts: dict[str, int] = {}
    started = time.perf_counter()
    for name, _ in samples:
        with (folder / name).open("rb") as file:
            verdict = scan_stream(file, name=name).verdict
        verdicts[verdict.value] = verdicts.get(verdict.value, 0) + 1
    elapsed = time.perf_counter() - started
    total = sum(len(data) for _, data in samples)
    print(f"\nworkload: {len(samples)} small files ({total / 1e6:.1f} MB): pickles, .npy, text")
    print(f"  scan:   {elapsed:.3f} s, {len(samples) / elapsed:,.0f} files/s")
    print(f"  verdicts: {dict(sorted(verdicts.items()))}")


def blind_spot_samples() -> list[tuple[str, bytes, Verdict]]:
    """(class, content, expected verdict): a malicious sample and a benign look-alike each."""
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    payload = corpus.call_pickle("os", "system", "id")
    arrays = {"coef": np.ones((20, 10)), "labels": np.array(["a", "b"])}
    ssti = "{{ cycler.__init__.__globals__.os.popen('id').read() }}"
    bypass = corpus.keras3_object("torch.nn.modules.linear", "Linear", {})
    return [
        ("1 payload, broken stream", payload[:-1] + b"\xff garbage", Verdict.FLAGGED),
        ("1 broken plain pickle", b"\x80\x04\x95garbage", Verdict.ERROR),
        ("2 absurd safetensors length", b"\xff" * 8 + b'{"a": 1}', Verdict.ERROR),
        ("2 valid safetensors", corpus.safetensors_file(), Verdict.CLEAN),
        ("3 pickle behind a PNG", png + payload, Verdict.FLAGGED),
        ("3 PNG", png, Verdict.CLEAN),
        ("4 Keras 3, foreign class", corpus.keras3_archive(corpus.keras3_dense_config(bypass)),
         Verdict.FLAGGED),
        ("4 Keras 3 Dense", corpus.keras3_archive(corpus.keras3_dense_config()), Verdict.CLEAN),
        ("5 7z archive", b"7z\xbc\xaf\x27\x1c" + bytes(32), Verdict.ERROR),
        ("5 TorchScript, torch.save in code", corpus.torchscript_archive(
            corpus.TORCHSCRIPT_CODE + "    torch.save(x, '/tmp/x')\n"), Verdict.FLAGGED),
        ("5 TorchScript", corpus.torchscript_archive(), Verdict.CLEAN),
        ("6 GGUF template SSTI", corpus.gguf_model(ssti), Verdict.FLAGGED),
        ("6 GGUF template", corpus.gguf_model(corpus.CLEAN_CHAT_TEMPLATE), Verdict.CLEAN),
        ("7 SavedModel ReadFile", corpus.saved_model([], ["ReadFile"]), Verdict.FLAGGED),
        ("7 SavedModel", corpus.saved_model(["MatMul"]), Verdict.CLEAN),
        ("8 joblib, payload after arrays", corpus.joblib_file(arrays, after=payload[2:-1] + b"0"),
         Verdict.FLAGGED),
        ("8 joblib (zlib), numpy only", zlib.compress(corpus.joblib_file(arrays), 3),
         Verdict.CLEAN),
        ("9 ONNX custom domain", corpus.onnx_with_nodes([("evil.ops", "Exec")]),
         Verdict.FLAGGED),
        ("9 ONNX", corpus.onnx_model(), Verdict.CLEAN),
        ("10 sklearn, default policy", corpus.sklearn_model_pickle(), Verdict.FLAGGED),
    ]


def bench_blind_spots() -> None:
    print("\nworkload: blind-spot classes of issue 21 (malicious sample, benign look-alike)")
    failures = 0
    for label, data, expected in blind_spot_samples():
        started = time.perf_counter()
        verdict = scan_stream(io.BytesIO(data)).verdict
        elapsed = time.perf_counter() - started
        failures += verdict != expected
        mark = "ok" if verdict == expected else f"WRONG, expected {expected}"
        print(f"  {label:<36} {verdict:<8} {elapsed * 1000:7.2f} ms  {mark}")
    sklearn = scan_stream(io.BytesIO(corpus.sklearn_model_pickle()), pickle_allowlist="sklearn")
    failures += sklearn.verdict != Verdict.CLEAN
    print(f"  {'10 sklearn, sklearn allowlist':<36} {sklearn.verdict}")
    assert failures == 0, f"{failures} verdicts differ from the expected ones"


def write_plain_zip(path: Path, size: int) -> None:
    """Half deflated text members without newlines (starting like protocol 0 opcodes), half
    stored random bytes."""
    text = base64.b64encode(np.random.default_rng(2).bytes(3 * CHUNK // 4))
    block = np.random.default_rng(3).bytes(CHUNK)
    with zipfile.ZipFile(path, "w") as archive:
        for n, (lead, method, data) in enumerate([(b"S'", zipfile.ZIP_DEFLATED, text),
                                                  (b"c", zipfile.ZIP_STORED, block)]):
            info = zipfile.ZipInfo(f"part{n}.bin")
            info.compress_type = method
            with archive.open(info, "w", force_zip64=True) as member:
                member.write(lead)
                for _ in range(size // 2 // CHUNK):
                    member.write(data)


def child_scan(path: Path) -> None:
    started = time.perf_counter()
    with path.open("rb") as file:
        result = scan_stream(file, name=path.name)
    print(f"{result.verdict} {time.perf_counter() - started:.2f}")


def bench_memory(folder: Path, size_gib: float) -> None:
    path = folder / "plain.zip"
    write_plain_zip(path, int(size_gib * 2**30))
    output = subprocess.run(
        [sys.executable, __file__, "--child-scan", str(path)], check=True, capture_output=True,
        text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout.split()
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\nworkload: plain zip of {path.stat().st_size / 2**30:.2f} GiB (text and random)")
    print(f"  scan: {output[1]} s, verdict {output[0]}, peak RSS of the scanning process "
          f"{peak_mib:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gib", type=float, default=2.0)
    parser.add_argument("--memory-gib", type=float, default=1.0)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write temp files")
    parser.add_argument("--child-scan", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child_scan:
        child_scan(arguments.child_scan)
        return

    folder = Path(tempfile.mkdtemp(prefix="scan-bench-", dir=arguments.workdir))
    try:
        print(f"machine: {describe_machine()}")
        print(f"scanner version: {SCANNER_VERSION}")
        checkpoint = folder / "model.pt"
        size = int(arguments.size_gib * 2**30)
        started = time.perf_counter()
        write_checkpoint(checkpoint, size)
        written = checkpoint.stat().st_size
        print(
            f"\nworkload: PyTorch checkpoint of {written / 2**30:.2f} GiB, {TENSOR_MEMBERS} "
            f"stored tensor members (written in {time.perf_counter() - started:.1f} s)"
        )

        hash_seconds = sha256_seconds(checkpoint)
        with checkpoint.open("rb") as file:
            counting = CountingFile(file)
            started = time.perf_counter()
            result = scan_stream(counting, name=checkpoint.name)  # type: ignore[arg-type]
            scan_seconds = time.perf_counter() - started
        assert result.verdict == Verdict.CLEAN, result

        print(f"  sha256: {hash_seconds:.3f} s, {written / hash_seconds / 1e9:.2f} GB/s")
        print(
            f"  scan:   {scan_seconds:.4f} s ({result.scanner}/{result.detected_format}, "
            f"{result.verdict}), {written / scan_seconds / 1e9:,.1f} GB/s effective"
        )
        print(
            f"  scan read {counting.bytes_read:,} bytes "
            f"({counting.bytes_read / written:.4%} of the file)"
        )
        print(f"  scan time / sha256 time: {scan_seconds / hash_seconds:.5f}")

        small = folder / "small"
        small.mkdir()
        bench_small_files(small)
        bench_blind_spots()
        checkpoint.unlink()  # room for the next workload
        bench_memory(folder, arguments.memory_gib)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
