"""A request's body read straight into the caller's buffer.

A resumable upload's parts are gigabytes of request body that the server copies into a file.
Read through WSGI's `wsgi.input` under gunicorn, every byte is copied three more times in user
space (gunicorn's read-ahead buffer, its slices, the body's own buffer) before it reaches the
file: in bench/transfer.py that was about a sixth of the server's CPU per part. Under gunicorn,
`body_reader` receives the body from the connection's socket into the caller's buffer
(`recv_into`), starting with whatever gunicorn has already read past the headers, and keeps
gunicorn's count of the body's unread bytes right, so that the connection's next request is
parsed where it starts. Anywhere else (runserver, Django's test client, another server, or
gunicorn serving TLS itself, whose socket decrypts in its own buffers) it reads the request
as usual.
"""

import io
import socket
import ssl

from django.http import HttpRequest
from gunicorn.http.body import Body, LengthReader


def body_reader(request: HttpRequest, length: int) -> io.RawIOBase:
    """The `length` bytes of `request`'s body, nothing of which has been read yet."""
    body = request.META.get("wsgi.input")
    connection = request.META.get("gunicorn.socket")
    if (isinstance(connection, socket.socket) and not isinstance(connection, ssl.SSLSocket)
            and isinstance(body, Body)
            and isinstance(body.reader, LengthReader) and body.reader.length == length
            and not body.buf.tell()):
        return GunicornSocketReader(body.reader, connection)
    return RequestReader(request)


class RequestReader(io.RawIOBase):
    """`readinto` over the request's own stream."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self._request.read(view.nbytes)
        view[:len(data)] = data
        return len(data)


class GunicornSocketReader(io.RawIOBase):
    """A body of known length, received from gunicorn's socket for the connection."""

    def __init__(self, reader: LengthReader, connection: socket.socket) -> None:
        self._reader = reader  # its `length` is the body's unread bytes, for gunicorn too
        self._connection = connection
        read_ahead = reader.unreader.take_buffered()
        if len(read_ahead) > reader.length:  # the start of a pipelined next request
            reader.unreader.unread(read_ahead[reader.length:])
        self._read_ahead = memoryview(read_ahead)[:reader.length]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")[:self._reader.length]
        if not view.nbytes:
            return 0
        if self._read_ahead.nbytes:
            count = min(view.nbytes, self._read_ahead.nbytes)
            view[:count] = self._read_ahead[:count]
            self._read_ahead = self._read_ahead[count:]
        else:
            # Wait for a full buffer: one call, one write and one hash update per buffer
            # rather than per network read. Less when the client went away (0 at the end).
            count = self._connection.recv_into(view, 0, socket.MSG_WAITALL)
        self._reader.length -= count
        return count
