"""The client (clients/python) against a live server: the SDK in-process, the `registry`
command as a subprocess, both over real HTTP to pytest-django's live server."""

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from accounts.models import Role

CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "python"
if str(CLIENT_DIR) not in sys.path:
    sys.path.insert(0, str(CLIENT_DIR))

from registry_client import Client  # noqa: E402

PASSWORD = "correct horse battery"
# `.ci/run` sets REGISTRY_CLI to the `registry` of a fresh venv where only the package was
# installed with pip, so a missing dependency or entry point fails; else the source tree.
COMMAND = ([os.environ["REGISTRY_CLI"]] if os.environ.get("REGISTRY_CLI")
           else [sys.executable, "-m", "registry_client"])


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def server(live_server, default_tenant) -> str:
    return live_server.url


def token_for(url: str, username: str, scopes: list[str]) -> str:
    with Client(url) as anonymous:
        access = anonymous.login(username, PASSWORD)["accessToken"]
    with Client(url, access) as client:
        return client.create_token(f"ci-{'-'.join(scopes).lower()}", scopes)["token"]


@pytest.fixture
def writer_token(server, member_factory) -> str:
    user = member_factory(Role.MAINTAINER, username="pusher")
    return token_for(server, user.username, ["READ", "WRITE"])


@pytest.fixture
def reader_token(server, member_factory, writer_token) -> str:
    """A read-only token of the same maintainer."""
    return token_for(server, "pusher", ["READ"])


@pytest.fixture
def sdk(server, writer_token, tmp_path):
    with Client(server, writer_token, state_dir=tmp_path / "state", part_size=5 * 2**20,
                small_file_limit=2**20, parallel=2) as client:
        yield client


@pytest.fixture
def cli(server, writer_token, tmp_path):
    """Runs `registry ARGS...` in a subprocess; token and URL from the environment."""

    def run(*args: str, token: str | None = writer_token, **env: str) -> Run:
        source = {} if os.environ.get("REGISTRY_CLI") else {"PYTHONPATH": str(CLIENT_DIR)}
        environment = {**os.environ, **source, "REGISTRY_URL": server,
                       "REGISTRY_CONFIG_DIR": str(tmp_path / "config"), "COLUMNS": "200",
                       **env}
        environment.pop("REGISTRY_TOKEN", None)
        if token is not None:
            environment["REGISTRY_TOKEN"] = token
        done = subprocess.run([*COMMAND, *args],
                              capture_output=True, text=True, env=environment, timeout=300,
                              stdin=subprocess.DEVNULL)
        return Run(done.returncode, done.stdout, done.stderr)

    run.token, run.server = writer_token, server
    return run


class SlowProxy:
    """A loopback TCP proxy to the live server that forwards what clients send at about
    `rate` bytes a second, so a test can interrupt an upload midway. Stops with the test."""

    def __init__(self, upstream: str, rate: int) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.delay = 65536 / rate
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                downstream, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by stop()
                return
            upstream = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(downstream, upstream, self.delay),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, downstream, 0),
                             daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, delay: float) -> None:
        try:
            while not self.stopped.is_set() and (chunk := source.recv(65536)):
                target.sendall(chunk)
                if delay:
                    time.sleep(delay)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.stopped.set()
        self.listener.close()


@pytest.fixture
def slow_proxy(server):
    proxy = SlowProxy(server, rate=8 * 2**20)
    yield proxy
    proxy.stop()
