"""Scanner benchmark: a multi-GB PyTorch checkpoint, and many small files.

    .venv/bin/python bench/scan_files.py [--size-gib 2] [--workdir DIR]

Writes a PyTorch-layout checkpoint (a stored zip: archive/data.pkl plus a few big tensor data
members, written in chunks with constant memory), then measures in the same run hashlib.sha256
over the file (the baseline: what the registry pays anyway to verify an upload) and scan_stream
over it. The scan should read the pickle, not the tensors, so it should cost a small fraction of
the hash. Then scans 1,000 small files (pickles, .npy, text) one by one for a files/s figure.
Temporary files are removed at the end.
"""

import argparse
import hashlib
import io
import pickle
import shutil
import sys
import tempfile
import time
import zipfile
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gib", type=float, default=2.0)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write temp files")
    arguments = parser.parse_args()

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
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
