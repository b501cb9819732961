"""login: tokens bound to user and tenant, one error for every bad credential, throttling."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model

from accounts import tokens
from accounts.models import LoginSession, Role
from tests.accounts.conftest import LOGIN, PASSWORD, VIEWER, bearer, graphql_from, login
from tests.factories import MembershipFactory, TenantFactory, UserFactory

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
INVALID_CREDENTIALS = {"messages": [{"code": "invalid_credentials", "field": None,
                                     "message": "Invalid username, password or tenant."}]}
TOO_MANY_ATTEMPTS = {"messages": [{"code": "too_many_attempts", "field": None,
                                   "message": "Too many failed logins; try again later."}]}


def test_login_issues_a_token_pair_for_the_default_tenant(maintainer):
    with time_machine.travel(T0, tick=False):
        pair = login(maintainer.username)

    session = LoginSession.objects.get()
    assert pair == {
        "accessToken": pair["accessToken"], "refreshToken": pair["refreshToken"],
        "expiresAt": "2030-01-01T12:30:00+00:00",
        "refreshExpiresAt": "2030-01-08T12:00:00+00:00", "tenantSlug": "default",
    }
    assert pair["accessToken"].startswith(f"rga_{session.lookup}_")
    assert pair["refreshToken"].startswith(f"rgr_{session.lookup}_")
    assert (session.user, session.tenant.slug) == (maintainer, "default")
    # Only hashes are stored.
    assert session.access_hash == tokens.token_hash(pair["accessToken"])
    assert session.refresh_hash == tokens.token_hash(pair["refreshToken"])
    assert get_user_model().objects.get(pk=maintainer.pk).last_login == T0


def test_login_to_another_tenant_binds_the_tokens_to_it(maintainer):
    acme = TenantFactory(slug="acme")
    MembershipFactory(user=maintainer, tenant=acme, role=Role.ADMIN)

    pair = login(maintainer.username, tenant="acme")

    assert pair["tenantSlug"] == "acme"
    # The tenant comes from the token; a header naming another tenant changes nothing.
    assert bearer(pair["accessToken"])(VIEWER, **{"X-Registry-Tenant": "default"}).data == {
        "viewer": {"user": {"username": maintainer.username}, "tenant": {"slug": "acme"},
                   "role": "ADMIN"}}


def test_superuser_may_log_into_any_tenant(default_tenant):
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    TenantFactory(slug="acme")

    pair = login("root", tenant="acme")

    assert bearer(pair["accessToken"])(VIEWER).data == {
        "viewer": {"user": {"username": "root"}, "tenant": {"slug": "acme"}, "role": None}}


@pytest.mark.parametrize("case", ["wrong password", "unknown user", "inactive user",
                                  "unknown tenant", "not a member of the tenant",
                                  "member of another tenant only"])
def test_every_bad_credential_gets_the_same_answer(case, member_factory, default_tenant):
    user = member_factory(Role.ADMIN, username="ada")
    other = TenantFactory(slug="other")
    outsider = UserFactory(username="outsider")
    MembershipFactory(user=outsider, tenant=other)
    username, password, tenant = "ada", PASSWORD, None
    if case == "wrong password":
        password = "wrong horse battery"
    elif case == "unknown user":
        username = "nobody"
    elif case == "inactive user":
        user.is_active = False
        user.save()
    elif case == "unknown tenant":
        tenant = "no-such-tenant"
    elif case == "not a member of the tenant":
        tenant = "other"
    else:
        username = "outsider"

    result = login_attempt(username, password, tenant)

    assert result == INVALID_CREDENTIALS
    assert LoginSession.objects.count() == 0


def login_attempt(username: str, password: str, tenant: str | None = None) -> dict:
    return graphql_from("127.0.0.1", LOGIN, {"username": username, "password": password,
                                             "tenant": tenant}).data["login"]


def test_repeated_failures_lock_the_account_even_for_the_right_password(settings, maintainer,
                                                                          member_factory):
    settings.LOGIN_FAILURE_LIMIT_PER_ACCOUNT = 3
    colleague = member_factory(Role.VIEWER)
    for _ in range(3):
        assert login_attempt(maintainer.username, "wrong") == INVALID_CREDENTIALS

    assert login_attempt(maintainer.username, PASSWORD) == TOO_MANY_ATTEMPTS
    # Per account, whatever the address; other accounts are unaffected.
    assert graphql_from("10.0.0.9", LOGIN, {"username": maintainer.username,
                                            "password": PASSWORD}).data["login"] \
        == TOO_MANY_ATTEMPTS
    assert login_attempt(colleague.username, PASSWORD)["tenantSlug"] == "default"
    assert LoginSession.objects.filter(user=maintainer).count() == 0


def test_unknown_usernames_are_throttled_alike(settings, default_tenant):
    settings.LOGIN_FAILURE_LIMIT_PER_ACCOUNT = 2
    for _ in range(2):
        assert login_attempt("nobody", "wrong") == INVALID_CREDENTIALS

    assert login_attempt("nobody", "wrong") == TOO_MANY_ATTEMPTS
    assert login_attempt("NoBody", "wrong") == TOO_MANY_ATTEMPTS


def test_repeated_failures_from_one_address_lock_that_address(settings, maintainer):
    settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS = 4
    for n in range(4):
        assert graphql_from("10.0.0.1", LOGIN, {"username": f"guess{n}", "password": "x"}
                            ).data["login"] == INVALID_CREDENTIALS

    from_there = graphql_from("10.0.0.1", LOGIN, {"username": maintainer.username,
                                                  "password": PASSWORD})
    from_elsewhere = graphql_from("10.0.0.2", LOGIN, {"username": maintainer.username,
                                                      "password": PASSWORD})

    assert from_there.data["login"] == TOO_MANY_ATTEMPTS
    assert from_elsewhere.data["login"]["tenantSlug"] == "default"


def test_the_lock_lifts_after_the_window(settings, maintainer):
    settings.LOGIN_FAILURE_LIMIT_PER_ACCOUNT = 2
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(2):
            login_attempt(maintainer.username, "wrong")
        clock.move_to(T0 + settings.LOGIN_FAILURE_WINDOW - timedelta(seconds=1))
        assert login_attempt(maintainer.username, PASSWORD) == TOO_MANY_ATTEMPTS

        clock.move_to(T0 + settings.LOGIN_FAILURE_WINDOW + timedelta(seconds=1))
        assert login_attempt(maintainer.username, PASSWORD)["tenantSlug"] == "default"


def test_a_success_clears_the_accounts_failures(settings, maintainer):
    settings.LOGIN_FAILURE_LIMIT_PER_ACCOUNT = 3
    for _ in range(2):
        login_attempt(maintainer.username, "wrong")
    assert login_attempt(maintainer.username, PASSWORD)["tenantSlug"] == "default"

    for _ in range(2):
        login_attempt(maintainer.username, "wrong")

    assert login_attempt(maintainer.username, PASSWORD)["tenantSlug"] == "default"


@pytest.mark.services
def test_throttling_counts_in_the_shared_cache(settings, default_tenant):
    """With REGISTRY_TEST_SERVICES=1 the counts live in Redis, shared by all web workers."""
    assert settings.CACHES["default"]["BACKEND"] == (
        "django.core.cache.backends.redis.RedisCache")
    run = uuid.uuid4().hex
    username, first_address, second_address = f"guess-{run}", f"{run}-1", f"{run}-2"
    for _ in range(settings.LOGIN_FAILURE_LIMIT_PER_ACCOUNT):
        assert graphql_from(first_address, LOGIN, {"username": username, "password": "x"}
                            ).data["login"] == INVALID_CREDENTIALS

    assert graphql_from(second_address, LOGIN, {"username": username, "password": "x"}
                        ).data["login"] == TOO_MANY_ATTEMPTS
