"""Errors of the client; each carries the exit code the `registry` command ends with."""

# The codes `registry` exits with (README, "The client").
EXIT_OK = 0
EXIT_USAGE = 1
EXIT_NOT_FOUND = 2
EXIT_NOT_DOWNLOADABLE = 3
EXIT_AUTH = 4
EXIT_SERVER = 5
EXIT_INTEGRITY = 6

AUTH_CODES = frozenset({"invalid_token", "invalid_credentials", "too_many_attempts",
                        "permission_denied", "read_only_token", "unauthenticated"})
NOT_FOUND_CODES = frozenset({"not_found"})


class RegistryError(Exception):
    """Any failure; `code` is the server's error code when it sent one."""

    exit_code = EXIT_SERVER

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]" if self.code else self.message


class UsageError(RegistryError):
    """Bad arguments, or a request the server refused as invalid."""

    exit_code = EXIT_USAGE


class NotFoundError(RegistryError):
    exit_code = EXIT_NOT_FOUND


class NotDownloadableError(RegistryError):
    """A file is not scanned clean (pending, flagged, error), or the server refused its bytes."""

    exit_code = EXIT_NOT_DOWNLOADABLE


class AuthError(RegistryError):
    exit_code = EXIT_AUTH


class ServerError(RegistryError):
    """The server failed, or could not be reached."""

    exit_code = EXIT_SERVER


class IntegrityError(RegistryError):
    """Received bytes whose sha256 is not the one the registry recorded."""

    exit_code = EXIT_INTEGRITY


def from_code(code: str | None, message: str) -> RegistryError:
    """The error class for a server error code."""
    if code in AUTH_CODES:
        return AuthError(message, code)
    if code in NOT_FOUND_CODES:
        return NotFoundError(message, code)
    if code is None:
        return ServerError(message)
    return UsageError(message, code)
