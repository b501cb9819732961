"""Access and refresh tokens: lifetimes on a frozen clock, rotation, and every way a login
stops working (logout, deactivation, removal from the tenant, a password change)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from accounts.models import LoginSession, Membership, Role
from accounts.tasks import purge_expired_logins_task
from tests.accounts.conftest import (
    INVALID_TOKEN_BODY,
    VIEWER,
    anonymous,
    bearer,
    login,
    refresh,
    served_status,
)
from tests.conftest import GraphQLClient
from tests.factories import ModelVersionFactory, TenantFactory, artifact_file

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
INVALID_REFRESH = {"messages": [{
    "code": "invalid_token", "field": None,
    "message": "The token is invalid, expired or revoked; log in again.",
}]}
LOGOUT = """mutation($token: String) { logout(refreshToken: $token) {
  ... on Logout { revoked } ... on OperationInfo { messages { code } } } }"""


def viewer_as(token: str) -> tuple[int, dict]:
    result = bearer(token)(VIEWER)
    return result.status_code, result.body


def works(token: str) -> bool:
    status, body = viewer_as(token)
    if status == 401:
        assert body == INVALID_TOKEN_BODY
        return False
    assert status == 200 and body["data"]["viewer"]["user"] is not None, body
    return True


def test_access_token_works_until_it_expires(settings, maintainer):
    with time_machine.travel(T0, tick=False) as clock:
        pair = login(maintainer.username)
        assert viewer_as(pair["accessToken"]) == (200, {"data": {"viewer": {
            "user": {"username": maintainer.username}, "tenant": {"slug": "default"},
            "role": "MAINTAINER"}}})

        clock.move_to(T0 + settings.ACCESS_TOKEN_LIFETIME - SECOND)
        assert works(pair["accessToken"]) is True

        clock.move_to(T0 + settings.ACCESS_TOKEN_LIFETIME)
        assert viewer_as(pair["accessToken"]) == (401, INVALID_TOKEN_BODY)


def test_lifetimes_are_configurable(settings, maintainer):
    settings.ACCESS_TOKEN_LIFETIME = timedelta(minutes=5)
    settings.REFRESH_TOKEN_LIFETIME = timedelta(hours=1)
    with time_machine.travel(T0, tick=False):
        pair = login(maintainer.username)

    assert (pair["expiresAt"], pair["refreshExpiresAt"]) == (
        "2030-01-01T12:05:00+00:00", "2030-01-01T13:00:00+00:00")


def test_refresh_inside_the_window_rotates_the_pair(settings, maintainer):
    with time_machine.travel(T0, tick=False) as clock:
        old = login(maintainer.username)
        renewal_time = T0 + settings.REFRESH_TOKEN_LIFETIME - SECOND
        clock.move_to(renewal_time)

        new = refresh(old["refreshToken"])

        assert new == {
            "accessToken": new["accessToken"], "refreshToken": new["refreshToken"],
            "expiresAt": (renewal_time + settings.ACCESS_TOKEN_LIFETIME).isoformat(),
            "refreshExpiresAt": (renewal_time + settings.REFRESH_TOKEN_LIFETIME).isoformat(),
            "tenantSlug": "default",
        }
        assert works(new["accessToken"]) is True
        # The old pair stops working: the refresh token is single-use.
        assert refresh(old["refreshToken"]) == INVALID_REFRESH
        assert LoginSession.objects.count() == 1


def test_an_expired_access_token_is_renewed_with_the_refresh_token(settings, maintainer):
    with time_machine.travel(T0, tick=False) as clock:
        old = login(maintainer.username)
        clock.move_to(T0 + settings.ACCESS_TOKEN_LIFETIME + SECOND)
        assert works(old["accessToken"]) is False

        new = refresh(old["refreshToken"])

        assert works(new["accessToken"]) is True


def test_refresh_after_the_window_is_refused(settings, maintainer):
    with time_machine.travel(T0, tick=False) as clock:
        pair = login(maintainer.username)
        clock.move_to(T0 + settings.REFRESH_TOKEN_LIFETIME)

        assert refresh(pair["refreshToken"]) == INVALID_REFRESH


def test_a_refresh_token_is_not_a_bearer_credential_nor_an_access_token_a_refresh_token(
        maintainer):
    pair = login(maintainer.username)

    assert viewer_as(pair["refreshToken"]) == (401, INVALID_TOKEN_BODY)
    assert refresh(pair["accessToken"]) == INVALID_REFRESH


@pytest.mark.parametrize("token", ["", "rga_", "rga_0123456789abcdef_forged",
                                   "rgk_0123456789abcdef_forged", "Basic abc", "x" * 5000])
def test_malformed_or_forged_bearer_tokens_are_refused(token, maintainer):
    assert viewer_as(token) == (401, INVALID_TOKEN_BODY)


def test_a_forged_secret_with_a_real_lookup_is_refused(maintainer):
    pair = login(maintainer.username)
    forged = pair["accessToken"][:21] + "A" * 43

    assert viewer_as(forged) == (401, INVALID_TOKEN_BODY)


def test_logout_revokes_both_tokens(maintainer):
    pair = login(maintainer.username)

    result = anonymous()(LOGOUT, {"token": pair["refreshToken"]})

    assert result.data == {"logout": {"revoked": True}}
    assert works(pair["accessToken"]) is False
    assert refresh(pair["refreshToken"]) == INVALID_REFRESH
    assert anonymous()(LOGOUT, {"token": pair["refreshToken"]}).data == {
        "logout": {"revoked": False}}


def test_logout_with_the_bearer_access_token_alone(maintainer):
    pair = login(maintainer.username)
    other = login(maintainer.username)

    assert bearer(pair["accessToken"])(LOGOUT).data == {"logout": {"revoked": True}}

    assert works(pair["accessToken"]) is False
    assert works(other["accessToken"]) is True  # other logins are left alone


def test_deactivated_users_tokens_stop_working(maintainer):
    pair = login(maintainer.username)
    maintainer.is_active = False
    maintainer.save()

    assert works(pair["accessToken"]) is False
    assert refresh(pair["refreshToken"]) == INVALID_REFRESH


def test_password_change_ends_every_login(maintainer):
    pair = login(maintainer.username)
    maintainer.set_password("a brand new passphrase")
    maintainer.save()

    assert works(pair["accessToken"]) is False
    assert refresh(pair["refreshToken"]) == INVALID_REFRESH
    assert works(login(maintainer.username, "a brand new passphrase")["accessToken"]) is True


def test_removal_from_the_tenant_ends_its_logins_for_good(maintainer):
    pair = login(maintainer.username)
    membership = Membership.objects.get(user=maintainer)
    membership.delete()

    assert works(pair["accessToken"]) is False
    assert refresh(pair["refreshToken"]) == INVALID_REFRESH
    # Adding the user back does not revive the old tokens.
    Membership.objects.create(user=maintainer, tenant=membership.tenant, role=Role.MAINTAINER)
    assert works(pair["accessToken"]) is False
    assert LoginSession.objects.count() == 0


def test_a_refused_bearer_token_never_falls_back_to_the_session(maintainer):
    client = Client()
    client.force_login(maintainer)
    session_client = GraphQLClient(client)
    assert session_client(VIEWER).data["viewer"]["user"] == {"username": maintainer.username}

    result = session_client(VIEWER, Authorization="Bearer rga_0123456789abcdef_revoked")

    assert (result.status_code, result.body) == (401, INVALID_TOKEN_BODY)


def test_the_download_url_follows_the_bearer_token_and_only_it(maintainer, default_tenant):
    version = ModelVersionFactory(model__tenant=default_tenant, model__owner=maintainer)
    url = f"/files/{artifact_file(version, content=b'onnx bytes').pk}/download"
    pair = login(maintainer.username)
    session = Client()
    session.force_login(maintainer)

    with_token = Client().get(url, headers={"Authorization": f"Bearer {pair['accessToken']}"})
    refused_token = session.get(url, headers={"Authorization": "Bearer rga_0123456789abcdef_x"})

    assert with_token.status_code == served_status()
    assert refused_token.status_code == 404
    assert session.get(url).status_code == served_status()


def test_tokens_of_several_tenants_stay_apart(maintainer):
    acme = TenantFactory(slug="acme")
    Membership.objects.create(user=maintainer, tenant=acme, role=Role.VIEWER)
    in_default, in_acme = login(maintainer.username), login(maintainer.username, tenant="acme")

    assert bearer(in_default["accessToken"])(VIEWER).data["viewer"]["tenant"] == {
        "slug": "default"}
    assert bearer(in_acme["accessToken"])(VIEWER).data["viewer"] == {
        "user": {"username": maintainer.username}, "tenant": {"slug": "acme"},
        "role": "VIEWER"}


def test_the_periodic_job_drops_logins_past_their_refresh_window(settings, maintainer):
    with time_machine.travel(T0, tick=False) as clock:
        login(maintainer.username)
        clock.move_to(T0 + timedelta(days=1))
        recent = login(maintainer.username)
        clock.move_to(T0 + settings.REFRESH_TOKEN_LIFETIME)

        result = purge_expired_logins_task()

        assert result == {"logins_deleted": 1}
        assert refresh(recent["refreshToken"])["tenantSlug"] == "default"
