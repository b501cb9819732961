"""API tokens: the secret shown once and stored hashed, scopes, expiry, last use, revocation,
and read-scoped tokens refused by every mutation."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from accounts import tokens
from accounts.models import ApiToken, Membership, Role
from tests.accounts.conftest import INVALID_TOKEN_BODY, VIEWER, bearer, login
from tests.accounts.test_cross_tenant import MUTATIONS, UPLOAD_FILE, fill, mutation
from tests.accounts.world import add_trash, build_world, database_snapshot

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
CREATE = """mutation($data: CreateApiTokenInput!) { createApiToken(data: $data) {
  ... on NewApiToken { token apiToken { id name scopes expiresAt lastUsedAt prefix
                                        user { username } } }
  ... on OperationInfo { messages { code field message } } } }"""
REVOKE = """mutation($id: ID!) { revokeApiToken(id: $id) {
  ... on Deletion { deletedId } ... on OperationInfo { messages { code field } } } }"""


def create_token(access_token: str, **data) -> dict:
    data = {"name": "ci", "scopes": ["READ"], **data}
    return bearer(access_token)(CREATE, {"data": data}).data["createApiToken"]


def test_the_secret_is_shown_once_and_stored_hashed(maintainer):
    with time_machine.travel(T0, tick=False):
        created = create_token(login(maintainer.username)["accessToken"], name="nightly",
                               scopes=["READ", "WRITE"])

    stored = ApiToken.objects.get()
    assert created == {"token": created["token"], "apiToken": {
        "id": created["apiToken"]["id"], "name": "nightly", "scopes": ["READ", "WRITE"],
        "expiresAt": "2030-04-01T12:00:00+00:00", "lastUsedAt": None,
        "prefix": f"rgk_{stored.lookup}", "user": {"username": maintainer.username}}}
    assert created["token"].startswith(f"rgk_{stored.lookup}_")
    assert stored.secret_hash == tokens.token_hash(created["token"])
    assert created["token"] not in str(list(ApiToken.objects.values()))
    listed = bearer(created["token"])("{ viewer { apiTokens { name prefix } } }").data
    assert listed == {"viewer": {"apiTokens": [{"name": "nightly",
                                                "prefix": f"rgk_{stored.lookup}"}]}}


NAME_RULE = {"message": "Give 1-100 characters, without surrounding spaces or control "
                        "characters."}


@pytest.mark.parametrize(("data", "error"), [
    ({"scopes": []}, {"code": "invalid_scope", "field": "scopes",
                      "message": "Give one or more of read, write, admin."}),
    ({"name": "  "}, {"code": "invalid_name", "field": "name", **NAME_RULE}),
    ({"name": "x" * 101}, {"code": "invalid_name", "field": "name", **NAME_RULE}),
    ({"expiresAt": "2029-12-31T12:00:00+00:00"},
     {"code": "invalid_expiry", "field": "expiresAt",
      "message": "Must be in the future and at most 365 days away."}),
    ({"expiresAt": "2031-01-01T12:00:01+00:00"},
     {"code": "invalid_expiry", "field": "expiresAt",
      "message": "Must be in the future and at most 365 days away."}),
])
def test_bad_token_requests_are_refused_and_create_nothing(data, error, maintainer):
    with time_machine.travel(T0, tick=False):
        result = create_token(login(maintainer.username)["accessToken"], **data)

    assert result == {"messages": [error]}
    assert ApiToken.objects.count() == 0


def test_an_api_token_acts_in_its_tenant_and_records_its_last_use(maintainer):
    with time_machine.travel(T0, tick=False) as clock:
        secret = create_token(login(maintainer.username)["accessToken"])["token"]
        clock.move_to(T0 + timedelta(hours=1))

        assert bearer(secret)(VIEWER).data == {"viewer": {
            "user": {"username": maintainer.username}, "tenant": {"slug": "default"},
            "role": "MAINTAINER"}}
        assert ApiToken.objects.get().last_used_at == T0 + timedelta(hours=1)

        # Written at most once a minute, not on every request.
        clock.move_to(T0 + timedelta(hours=1, seconds=59))
        bearer(secret)(VIEWER)
        assert ApiToken.objects.get().last_used_at == T0 + timedelta(hours=1)
        clock.move_to(T0 + timedelta(hours=1, seconds=60))
        bearer(secret)(VIEWER)
        assert ApiToken.objects.get().last_used_at == T0 + timedelta(hours=1, seconds=60)


def test_an_api_token_stops_at_its_expiry(maintainer):
    with time_machine.travel(T0, tick=False) as clock:
        secret = create_token(login(maintainer.username)["accessToken"],
                              expiresAt="2030-01-02T12:00:00+00:00")["token"]
        clock.move_to(datetime(2030, 1, 2, 11, 59, 59, tzinfo=UTC))
        assert bearer(secret)(VIEWER).status_code == 200

        clock.move_to(datetime(2030, 1, 2, 12, 0, tzinfo=UTC))
        result = bearer(secret)(VIEWER)

    assert (result.status_code, result.body) == (401, INVALID_TOKEN_BODY)


def test_revoked_tokens_stop_working(maintainer):
    access = login(maintainer.username)["accessToken"]
    created = create_token(access)

    assert bearer(access)(REVOKE, {"id": created["apiToken"]["id"]}).data == {
        "revokeApiToken": {"deletedId": created["apiToken"]["id"]}}

    result = bearer(created["token"])(VIEWER)
    assert (result.status_code, result.body) == (401, INVALID_TOKEN_BODY)
    assert ApiToken.objects.count() == 0


def test_only_the_owner_and_tenant_admins_revoke_a_token(maintainer, member_factory):
    colleague, admin = member_factory(Role.MAINTAINER), member_factory(Role.ADMIN)
    created = create_token(login(maintainer.username)["accessToken"])
    token_id = created["apiToken"]["id"]

    by_colleague = bearer(login(colleague.username)["accessToken"])(REVOKE, {"id": token_id})
    assert by_colleague.data == {"revokeApiToken": {"messages": [
        {"code": "not_found", "field": "id"}]}}
    assert ApiToken.objects.count() == 1

    by_admin = bearer(login(admin.username)["accessToken"])(REVOKE, {"id": token_id})
    assert by_admin.data == {"revokeApiToken": {"deletedId": token_id}}
    assert ApiToken.objects.count() == 0


def test_deactivation_and_removal_end_api_tokens_but_a_password_change_does_not(
        maintainer, member_factory):
    """API tokens are credentials of their own, revoked one by one; a new password leaves
    them alone (unlike logins)."""
    colleague = member_factory(Role.MAINTAINER)
    mine = create_token(login(maintainer.username)["accessToken"])["token"]
    theirs = create_token(login(colleague.username)["accessToken"])["token"]

    maintainer.set_password("another passphrase entirely")
    maintainer.save()
    assert bearer(mine)(VIEWER).status_code == 200

    maintainer.is_active = False
    maintainer.save()
    Membership.objects.filter(user=colleague).delete()

    assert bearer(mine)(VIEWER).status_code == 401
    assert bearer(theirs)(VIEWER).status_code == 401
    assert ApiToken.objects.filter(user=colleague).count() == 0


# --- Scopes --------------------------------------------------------------------------------

READ_ONLY = {"kind": "PERMISSION", "code": "read_only_token", "field": None,
             "message": "This token's scopes do not allow changes."}
ACCOUNT_MUTATIONS = {
    "createApiToken": (mutation("($data: CreateApiTokenInput!)", "createApiToken(data: $data)"),
                       {"data": {"name": "more", "scopes": ["ADMIN"]}}),
    "createTenant": (mutation("($data: CreateTenantInput!)", "createTenant(data: $data)"),
                     {"data": {"slug": "new-corp", "organization": "New",
                               "adminUsername": "alpha-admin"}}),
    "addMember": (mutation("($data: AddMemberInput!)", "addMember(data: $data)"),
                  {"data": {"username": "newcomer", "password": "a long new passphrase"}}),
    "createGroup": (mutation("($name: String!)", "createGroup(name: $name)"),
                    {"name": "new-group"}),
    "createModel": (mutation("($data: CreateModelInput!)", "createModel(data: $data)"),
                    {"data": {"name": "new-model"}}),
    "createDataset": (mutation("($data: CreateDatasetInput!)", "createDataset(data: $data)"),
                      {"data": {"name": "new-dataset"}}),
    "createDefaultTag": (mutation("($data: VocabularyEntryInput!)",
                                  "createDefaultTag(data: $data)"), {"data": {"name": "new"}}),
    "createDefaultMetadataKey": (mutation("($data: VocabularyEntryInput!)",
                                          "createDefaultMetadataKey(data: $data)"),
                                 {"data": {"name": "new"}}),
}


@pytest.fixture
def tenant_admin_tokens(db, default_tenant):
    """A tenant with every kind of object, and API tokens of its admin by scope, used once
    already: on a frozen clock no later request rewrites their last-used time."""
    with time_machine.travel(T0, tick=False):
        world = build_world("alpha")
        add_trash(world)
        access = login(world.admin.username, tenant=world.tenant.slug)["accessToken"]
        by_scope = {scope: create_token(access, name=scope, scopes=[scope.upper()])["token"]
                    for scope in ("read", "write", "admin")}
        for token in by_scope.values():
            assert bearer(token)(VIEWER).status_code == 200
        yield world, by_scope


@pytest.mark.parametrize("operation", [*MUTATIONS, *ACCOUNT_MUTATIONS])
def test_a_read_scoped_token_cannot_mutate(operation, tenant_admin_tokens):
    world, by_scope = tenant_admin_tokens
    query, variables = {**MUTATIONS, **ACCOUNT_MUTATIONS}[operation]
    before = database_snapshot()

    result = bearer(by_scope["read"])(query, fill(variables, world.ids(), world.ids(),
                                                  world.names()))

    assert result.data["result"] == {"__typename": "OperationInfo", "messages": [READ_ONLY]}
    assert database_snapshot() == before


def test_a_read_scoped_token_cannot_upload(tenant_admin_tokens):
    world, by_scope = tenant_admin_tokens
    before = database_snapshot()

    result = bearer(by_scope["read"]).upload(
        UPLOAD_FILE, {"version": world.ids()["model_version"], "file": None},
        {"variables.file": ("new.onnx", b"bytes")})

    assert result.data["result"] == {"__typename": "OperationInfo", "messages": [READ_ONLY]}
    assert database_snapshot() == before


def test_a_read_scoped_token_reads(tenant_admin_tokens):
    world, by_scope = tenant_admin_tokens

    data = bearer(by_scope["read"])("{ models { edges { node { name } } } }").data

    assert data == {"models": {"edges": [{"node": {"name": "alpha-detector"}}]}}


@pytest.mark.parametrize(("scope", "expected"), [
    ("write", "OperationInfo"), ("admin", "NewApiToken")])
def test_managing_tokens_and_members_needs_the_admin_scope(scope, expected,
                                                           tenant_admin_tokens):
    world, by_scope = tenant_admin_tokens
    query, variables = ACCOUNT_MUTATIONS["createApiToken"]

    write_model = bearer(by_scope[scope])(*ACCOUNT_MUTATIONS["createModel"])
    new_token = bearer(by_scope[scope])(query, variables)

    assert write_model.data["result"]["__typename"] == "RegisteredModel"
    assert new_token.data["result"]["__typename"] == expected
