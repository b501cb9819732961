"""Where the client keeps its login: a JSON file of mode 0600, or the environment for CI.

`REGISTRY_URL` and `REGISTRY_TOKEN` override the file; `REGISTRY_CONFIG_DIR` moves the folder
(default `$XDG_CONFIG_HOME/registry`, else `~/.config/registry`), which also holds the state
of interrupted uploads (`uploads.json`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from registry_client.errors import UsageError

DEFAULT_URL = "http://127.0.0.1:8000"


def config_dir() -> Path:
    if explicit := os.environ.get("REGISTRY_CONFIG_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "registry"


@dataclass
class Settings:
    url: str = DEFAULT_URL
    token: str | None = None
    refresh_token: str | None = None
    expires_at: str | None = None
    tenant: str | None = None
    from_environment: bool = False

    def expired(self) -> bool:
        if not self.expires_at:
            return False
        moment = datetime.fromisoformat(self.expires_at.replace("Z", "+00:00"))
        return moment <= datetime.now(UTC)


def load() -> Settings:
    path = config_dir() / "config.json"
    stored: dict[str, Any] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text())
        except ValueError as error:
            raise UsageError(f"{path} is not valid JSON: {error}") from error
    settings = Settings(**{key: stored[key] for key in ("url", "token", "refresh_token",
                                                         "expires_at", "tenant")
                           if key in stored})
    if url := os.environ.get("REGISTRY_URL"):
        settings.url = url
    if token := os.environ.get("REGISTRY_TOKEN"):
        settings.token, settings.refresh_token, settings.expires_at = token, None, None
        settings.from_environment = True
    return settings


def save(settings: Settings) -> Path:
    """Write the login with mode 0600 (created so, never readable by others in between)."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "config.json"
    data = {key: value for key, value in asdict(settings).items() if key != "from_environment"}
    temporary = folder / "config.json.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        json.dump(data, stream, indent=2)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def forget() -> None:
    path = config_dir() / "config.json"
    if path.exists():
        settings = load()
        save(Settings(url=settings.url))


def evam(path: str | Path) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """An EVAM-style config: its `model_registry` section (url, request_timeout,
    saved_models_dir) and its `model_params` (one object or a list)."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"Cannot read {path}: {error}") from error
    section = document.get("model_registry") or {}
    params = document.get("model_params", section.get("model_params"))
    if isinstance(params, dict):
        params = [params]
    if not params or not all(isinstance(p, dict) for p in params):
        raise UsageError(f"{path}: `model_params` must be an object or a list of objects.")
    return section, params
