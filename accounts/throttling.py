"""Counting failed logins per account and per client address, in the Django cache.

Counts live for `LOGIN_FAILURE_WINDOW` from the first failure. An unknown username is
counted like a known one, so the throttle reveals nothing about which accounts exist.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache


def _account_key(username: str) -> str:
    digest = hashlib.sha256(username.casefold().encode()).hexdigest()
    return f"accounts:login-failures:account:{digest}"


def _address_key(address: str) -> str:
    return f"accounts:login-failures:address:{address}"


def login_allowed(*, username: str, address: str) -> bool:
    counts = cache.get_many([_account_key(username), _address_key(address)])
    return (counts.get(_account_key(username), 0) < settings.LOGIN_FAILURE_LIMIT_PER_ACCOUNT
            and counts.get(_address_key(address), 0) < settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS)


def login_failed(*, username: str, address: str) -> None:
    window = int(settings.LOGIN_FAILURE_WINDOW.total_seconds())
    for key in (_account_key(username), _address_key(address)):
        if cache.add(key, 1, timeout=window):
            continue
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=window)


def login_succeeded(*, username: str) -> None:
    # Only the account's count: a success must not clear an address that is guessing.
    cache.delete(_account_key(username))
