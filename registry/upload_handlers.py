"""Django upload handlers for multipart request bodies (FILE_UPLOAD_HANDLERS).

Bodies are parsed in chunks of `CHUNK_SIZE`. Small files stay in memory; larger ones are
spooled to a temporary file and hashed as they are written, so storing them reads nothing
back: the digest travels as the file's declared `sha256`.
"""

import hashlib

from django.core.files import uploadhandler
from django.core.files.uploadedfile import TemporaryUploadedFile

from registry.storage.keys import CHUNK_SIZE


class HashedTemporaryUploadedFile(TemporaryUploadedFile):
    """A spooled upload with the SHA-256 of its bytes, set by the handler that wrote them."""

    sha256: str | None = None  # hex; None until the handler completed the file

    def __init__(self, name: str, content_type: str, charset: str | None,
                 content_type_extra: dict | None = None) -> None:
        super().__init__(name, content_type, 0, charset, content_type_extra)


class MemoryUploadHandler(uploadhandler.MemoryFileUploadHandler):
    chunk_size = CHUNK_SIZE


class TemporaryUploadHandler(uploadhandler.TemporaryFileUploadHandler):
    """Spools a file to disk as a HashedTemporaryUploadedFile, hashing it on the way."""

    chunk_size = CHUNK_SIZE

    def new_file(self, *args, **kwargs) -> None:
        # The base handler's bookkeeping, but our file class in place of the one the parent
        # class would create (and open a temporary file for).
        uploadhandler.FileUploadHandler.new_file(self, *args, **kwargs)
        self.file = HashedTemporaryUploadedFile(self.file_name, self.content_type,
                                                self.charset, self.content_type_extra)
        self.digest = hashlib.sha256()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.digest.update(raw_data)
        super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size: int) -> HashedTemporaryUploadedFile:
        self.file.sha256 = self.digest.hexdigest()
        return super().file_complete(file_size)
