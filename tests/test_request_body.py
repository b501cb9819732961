"""A request body received from gunicorn's socket, or read from the request as usual."""

import os
import socket
import ssl
import threading

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.test import RequestFactory
from gunicorn.config import Config
from gunicorn.http import wsgi
from gunicorn.http.parser import RequestParser

from config.request_body import GunicornSocketReader, RequestReader, body_reader

NEXT_REQUEST = b"GET /next HTTP/1.1\r\nHost: registry\r\n\r\n"


def put_request(body: bytes) -> bytes:
    return (b"PUT /part HTTP/1.1\r\nHost: registry\r\nContent-Length: %d\r\n\r\n" % len(body)
            + body)


def read_all(reader, buffer_size: int) -> bytes:
    received, buffer = bytearray(), bytearray(buffer_size)
    while count := reader.readinto(buffer):
        received += buffer[:count]
    return bytes(received)


@pytest.fixture
def gunicorn_connection():
    """(the client's socket, gunicorn's parser of the server side, the server's socket)."""
    client, server = socket.socketpair()
    server.settimeout(10)  # a request that never comes fails the test instead of hanging it
    yield client, RequestParser(Config(), server, ("127.0.0.1", 1)), server
    client.close()
    server.close()


def gunicorn_request(parser: RequestParser, server: socket.socket) -> WSGIRequest:
    _, environ = wsgi.create(next(parser), server, ("127.0.0.1", 1), ("127.0.0.1", 8000),
                             Config())
    return WSGIRequest(environ)


def test_a_body_read_ahead_with_the_headers_is_received_and_the_next_request_kept(
        gunicorn_connection):
    client, parser, server = gunicorn_connection
    body = os.urandom(3000)
    client.sendall(put_request(body) + NEXT_REQUEST)  # all of it arrives with the headers
    request = gunicorn_request(parser, server)

    reader = body_reader(request, len(body))

    assert isinstance(reader, GunicornSocketReader)
    assert read_all(reader, 1024) == body
    assert reader.readinto(bytearray(10)) == 0
    following = next(parser)
    assert (following.method, following.path) == ("GET", "/next")


def test_a_body_larger_than_the_read_ahead_is_received_from_the_socket(gunicorn_connection):
    client, parser, server = gunicorn_connection
    body = os.urandom(8 * 2**20)
    sender = threading.Thread(target=client.sendall, args=(put_request(body) + NEXT_REQUEST,))
    sender.start()
    request = gunicorn_request(parser, server)

    received = read_all(body_reader(request, len(body)), 2**20)

    sender.join()
    assert received == body
    assert next(parser).path == "/next"


def test_a_body_sent_after_100_continue_is_received(gunicorn_connection):
    client, parser, server = gunicorn_connection
    body = os.urandom(5000)
    client.sendall(b"PUT /part HTTP/1.1\r\nHost: registry\r\nExpect: 100-continue\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(body))  # as curl -T does
    request = gunicorn_request(parser, server)
    client.settimeout(10)
    assert client.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    client.sendall(body + NEXT_REQUEST)

    assert read_all(body_reader(request, len(body)), 1024) == body
    assert next(parser).path == "/next"


def test_a_body_cut_short_by_the_client_ends_early_and_gunicorn_drops_the_connection(
        gunicorn_connection):
    client, parser, server = gunicorn_connection
    client.sendall(put_request(b"x" * 100)[:-40])
    client.shutdown(socket.SHUT_WR)
    request = gunicorn_request(parser, server)

    received = read_all(body_reader(request, 100), 16)

    assert received == b"x" * 60
    with pytest.raises(StopIteration):  # the next request's start is unknown
        next(parser)


def test_a_body_already_partly_read_is_read_from_the_request(gunicorn_connection):
    client, parser, server = gunicorn_connection
    body = os.urandom(3000)
    client.sendall(put_request(body))
    request = gunicorn_request(parser, server)
    start = request.read(100)

    reader = body_reader(request, len(body))

    assert isinstance(reader, RequestReader)
    assert start + read_all(reader, 1024) == body


def test_a_body_over_tls_is_read_from_the_request(gunicorn_connection):
    client, parser, server = gunicorn_connection
    body = os.urandom(3000)
    client.sendall(put_request(body))
    request = gunicorn_request(parser, server)
    with ssl.create_default_context().wrap_socket(socket.socket(), server_hostname="registry",
                                                  do_handshake_on_connect=False) as tls:
        request.META["gunicorn.socket"] = tls  # gunicorn's socket when it serves TLS

        reader = body_reader(request, len(body))

    assert isinstance(reader, RequestReader)
    assert read_all(reader, 1024) == body


def test_elsewhere_the_body_is_read_from_the_request():
    body = os.urandom(3000)
    request = RequestFactory().put("/part", data=body, content_type="application/octet-stream")

    reader = body_reader(request, len(body))

    assert isinstance(reader, RequestReader)
    assert read_all(reader, 1024) == body
