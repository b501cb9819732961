"""The resumable SHA-256 that carries an upload's digest from one part's request to the next."""

import hashlib
import random

import pytest

from registry.sha256_state import STATE_SIZE, ResumableSha256


def test_a_saved_state_resumes_to_hashlibs_digest():
    data = random.Random(7).randbytes(3 * 2**20 + 11)
    cuts = [0, 1, 63, 64, 65, 100_000, 2**20, len(data)]

    digest = ResumableSha256()
    for start, end in zip(cuts, cuts[1:], strict=False):
        digest = ResumableSha256(digest.state())  # as if each piece came to another process
        digest.update(data[start:end] if start % 2 else bytearray(data[start:end]))

    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert len(digest.state()) == STATE_SIZE == 112


def test_hexdigest_leaves_the_state_usable():
    digest = ResumableSha256()
    digest.update(b"abc")
    assert digest.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    digest.update(memoryview(b"def"))
    assert digest.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()
    assert ResumableSha256().hexdigest() == hashlib.sha256(b"").hexdigest()


def test_a_state_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="a SHA-256 state has 112 bytes, not 3"):
        ResumableSha256(b"abc")
