"""SHA-256 whose state can be saved and resumed in another process.

hashlib's objects cannot be serialised, yet a resumable upload's parts land in different
requests, often in different worker processes. OpenSSL's SHA256_CTX is a plain struct: saved
as bytes, it carries the digest of the parts received so far from one part's request to the
next, so completing an upload only hashes what no part request could hash already.
"""

import ctypes
from functools import cache


class _Context(ctypes.Structure):
    # SHA256_CTX of openssl/sha.h (SHA_LONG is 32 bits on every platform OpenSSL supports).
    _fields_ = [("h", ctypes.c_uint32 * 8), ("Nl", ctypes.c_uint32), ("Nh", ctypes.c_uint32),
                ("data", ctypes.c_uint32 * 16), ("num", ctypes.c_uint32),
                ("md_len", ctypes.c_uint32)]


STATE_SIZE = ctypes.sizeof(_Context)


# By name: ctypes.util.find_library may run a compiler to look for it.
LIBCRYPTO_NAMES = ("libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.3.dylib")


@cache
def _libcrypto() -> ctypes.CDLL | None:
    """OpenSSL's libcrypto (the one hashlib links), or None where it lacks SHA256_*."""
    for name in LIBCRYPTO_NAMES:
        try:
            library = ctypes.CDLL(name)
            functions = (library.SHA256_Init, library.SHA256_Update, library.SHA256_Final)
        except (OSError, AttributeError):
            continue
        break
    else:
        return None
    for function in functions:
        function.restype = ctypes.c_int
    library.SHA256_Init.argtypes = [ctypes.POINTER(_Context)]
    library.SHA256_Update.argtypes = [ctypes.POINTER(_Context), ctypes.c_void_p,
                                      ctypes.c_size_t]
    library.SHA256_Final.argtypes = [ctypes.c_char_p, ctypes.POINTER(_Context)]
    return library


def available() -> bool:
    return _libcrypto() is not None


class ResumableSha256:
    """hashlib.sha256's update/hexdigest, plus `state()` to save and resume it elsewhere.

    Calls into OpenSSL release the GIL, as hashlib's do.
    """

    def __init__(self, state: bytes | None = None) -> None:
        self._library = _libcrypto()
        if self._library is None:
            raise RuntimeError("libcrypto's SHA256 functions are not available")
        self._context = _Context()
        if state is None:
            self._check(self._library.SHA256_Init(ctypes.byref(self._context)))
        elif len(state) == STATE_SIZE:
            ctypes.memmove(ctypes.byref(self._context), state, STATE_SIZE)
        else:
            raise ValueError(f"a SHA-256 state has {STATE_SIZE} bytes, not {len(state)}")

    @staticmethod
    def _check(result: int) -> None:
        if result != 1:
            raise RuntimeError("libcrypto's SHA256 failed")

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if isinstance(data, bytes):
            pointer, length = data, len(data)  # ctypes passes bytes' own buffer
        else:
            view = memoryview(data).cast("B")
            if view.readonly:
                view = memoryview(bytearray(view))
            length = view.nbytes
            pointer = ctypes.addressof(ctypes.c_char.from_buffer(view)) if length else None
        if length:
            self._check(self._library.SHA256_Update(ctypes.byref(self._context), pointer,
                                                    length))

    def state(self) -> bytes:
        return ctypes.string_at(ctypes.byref(self._context), STATE_SIZE)

    def hexdigest(self) -> str:
        final = _Context.from_buffer_copy(self.state())  # Final wipes the context it is given
        digest = ctypes.create_string_buffer(32)
        self._check(self._library.SHA256_Final(digest, ctypes.byref(final)))
        return digest.raw.hex()
