"""Members, roles and groups of a tenant, managed by its admins."""

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from strawberry.relay import to_base64

from accounts import selectors, services
from accounts.models import ApiToken, LoginSession, Membership, Role, TenantGroup
from tests.accounts.conftest import VIEWER, anonymous, bearer, login
from tests.accounts.world import database_snapshot
from tests.factories import MembershipFactory, TenantFactory, UserFactory

PAYLOAD = "... on OperationInfo { messages { kind code field message } }"
ADD = ("mutation($data: AddMemberInput!) { addMember(data: $data) { "
       "... on Membership { user { username } role } " + PAYLOAD + " } }")
SET_ROLE = ("mutation($user: ID!, $role: Role!) { setMemberRole(userId: $user, role: $role) { "
            "... on Membership { user { username } role } " + PAYLOAD + " } }")
REMOVE = ("mutation($user: ID!) { removeMember(userId: $user) { ... on Deletion { deletedId } "
          + PAYLOAD + " } }")
MEMBERS = """{ viewer { tenant { members { totalCount edges { node { user { username } role }
} } groups { edges { node { name members { username } } } } } } }"""


def user_id(user) -> str:
    return to_base64("User", user.pk)


@pytest.fixture
def admin(member_factory):
    user = member_factory(Role.ADMIN, username="boss")
    return user, bearer(login(user.username)["accessToken"])


def members(client) -> list[tuple[str, str]]:
    tenant = client(MEMBERS).data["viewer"]["tenant"]
    return [(edge["node"]["user"]["username"], edge["node"]["role"])
            for edge in tenant["members"]["edges"]]


def test_admins_add_existing_and_new_users(admin):
    _, client = admin
    UserFactory(username="ada")

    existing = client(ADD, {"data": {"username": "ada", "role": "MAINTAINER"}})
    new = client(ADD, {"data": {"username": "grace", "password": "a long enough passphrase"}})

    assert existing.data == {"addMember": {"user": {"username": "ada"}, "role": "MAINTAINER"}}
    assert new.data == {"addMember": {"user": {"username": "grace"}, "role": "VIEWER"}}
    assert members(client) == [("boss", "ADMIN"), ("ada", "MAINTAINER"), ("grace", "VIEWER")]
    assert login("grace", "a long enough passphrase")["tenantSlug"] == "default"


@pytest.mark.parametrize(("data", "error"), [
    ({"username": "ghost"}, ("not_found", "username",
                             "No user 'ghost'; give a password to create it.")),
    ({"username": "ada", "password": "a long enough passphrase"},
     ("user_exists", "password", "User 'ada' exists already; omit the password.")),
    ({"username": "boss"}, ("already_member", "username", "'boss' is a member already.")),
    ({"username": "new", "password": "password"},
     ("invalid_password", "password", "This password is too common.")),
])
def test_bad_member_requests_change_nothing(data, error, admin):
    _, client = admin
    UserFactory(username="ada")
    before = database_snapshot()

    result = client(ADD, {"data": data})

    code, field, message = error
    assert result.data == {"addMember": {"messages": [
        {"kind": "VALIDATION", "code": code, "field": field, "message": message}]}}
    assert database_snapshot() == before


@pytest.mark.parametrize("role", [Role.MAINTAINER, Role.VIEWER])
def test_only_tenant_admins_manage_members(role, member_factory):
    caller = member_factory(role)
    colleague = member_factory(Role.VIEWER)
    client = bearer(login(caller.username)["accessToken"])
    before = database_snapshot()

    results = [
        client(ADD, {"data": {"username": "x", "password": "a long enough passphrase"}}),
        client(SET_ROLE, {"user": user_id(colleague), "role": "ADMIN"}),
        client(REMOVE, {"user": user_id(colleague)}),
        client("mutation { createGroup(name: \"team\") { " + PAYLOAD + " } }"),
    ]

    refusal = {"messages": [{"kind": "PERMISSION", "code": "permission_denied", "field": None,
                             "message": "Only tenant admins may do this."}]}
    assert [next(iter(r.data.values())) for r in results] == [refusal] * 4
    assert database_snapshot() == before


def test_roles_change_but_a_tenant_keeps_an_admin(admin, member_factory):
    boss, client = admin
    ada = member_factory(Role.VIEWER, username="ada")

    promoted = client(SET_ROLE, {"user": user_id(ada), "role": "ADMIN"})
    demoted_self = client(SET_ROLE, {"user": user_id(boss), "role": "VIEWER"})
    last_admin = bearer(login("ada")["accessToken"])(SET_ROLE, {"user": user_id(ada),
                                                                "role": "MAINTAINER"})

    assert promoted.data == {"setMemberRole": {"user": {"username": "ada"}, "role": "ADMIN"}}
    assert demoted_self.data == {"setMemberRole": {"user": {"username": "boss"},
                                                   "role": "VIEWER"}}
    assert last_admin.data == {"setMemberRole": {"messages": [{
        "kind": "VALIDATION", "code": "last_admin", "field": "userId",
        "message": "This is the tenant's last admin."}]}}
    assert Membership.objects.get(user=ada).role == Role.ADMIN


@pytest.mark.services  # PostgreSQL: concurrent transactions
@pytest.mark.django_db(transaction=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(monkeypatch):
    tenant = TenantFactory(slug="duo")
    ada = MembershipFactory(tenant=tenant, role=Role.ADMIN, user__username="ada")
    bob = MembershipFactory(tenant=tenant, role=Role.ADMIN, user__username="bob")
    both_checking = threading.Barrier(2, timeout=2)
    check = selectors.tenants_left_without_admin

    def check_when_both_are_here(leaving):
        # Without a lock both demotions meet here before either is saved; with one, the
        # other waits for the lock and the barrier times out.
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checking.wait()
        return check(leaving)

    monkeypatch.setattr(selectors, "tenants_left_without_admin", check_when_both_are_here)

    def demote(acting: Membership, demoted: Membership) -> str:
        try:
            services.member_role_set(actor=selectors.actor_for(user=acting.user, tenant=tenant),
                                     user_id=demoted.user_id, role=Role.VIEWER)
            return "demoted"
        except ValidationError as error:
            return error.error_dict["userId"][0].code
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(demote, [ada, bob], [bob, ada]))

    assert outcomes == ["demoted", "last_admin"]
    assert Membership.objects.filter(tenant=tenant, role=Role.ADMIN).count() == 1


def test_removing_a_member_ends_their_tokens_and_groups_here(admin, member_factory):
    boss, client = admin
    ada = member_factory(Role.MAINTAINER, username="ada")
    ada_login = login("ada")
    ada_token = bearer(ada_login["accessToken"])(
        'mutation { createApiToken(data: {name: "ci", scopes: [READ]}) { '
        '... on NewApiToken { token } } }').data["createApiToken"]["token"]
    group_id = client('mutation { createGroup(name: "team") { ... on TenantGroup { id } } }'
                      ).data["createGroup"]["id"]
    client("mutation($g: ID!, $u: ID!) { addGroupMember(groupId: $g, userId: $u) { "
           "__typename } }", {"g": group_id, "u": user_id(ada)})

    result = client(REMOVE, {"user": user_id(ada)})

    assert result.data == {"removeMember": {"deletedId": user_id(ada)}}
    assert members(client) == [("boss", "ADMIN")]
    assert (LoginSession.objects.filter(user=ada).count(),
            ApiToken.objects.filter(user=ada).count(), ada.groups.count()) == (0, 0, 0)
    assert bearer(ada_login["accessToken"])(VIEWER).status_code == 401
    assert bearer(ada_token)(VIEWER).status_code == 401
    assert client(REMOVE, {"user": user_id(boss)}).data == {"removeMember": {"messages": [{
        "kind": "VALIDATION", "code": "last_admin", "field": "userId",
        "message": "This is the tenant's last admin."}]}}


def test_groups_hold_members_of_the_tenant_only(admin, member_factory):
    _, client = admin
    ada = member_factory(Role.VIEWER, username="ada")
    outsider = UserFactory(username="outsider")
    group = client('mutation { createGroup(name: "vision-team") { ... on TenantGroup { id } } }'
                   ).data["createGroup"]
    add = ("mutation($g: ID!, $u: ID!) { addGroupMember(groupId: $g, userId: $u) { "
           "... on TenantGroup { name members { username } } " + PAYLOAD + " } }")

    assert client(add, {"g": group["id"], "u": user_id(ada)}).data == {"addGroupMember": {
        "name": "vision-team", "members": [{"username": "ada"}]}}
    assert client(add, {"g": group["id"], "u": user_id(outsider)}).data == {"addGroupMember": {
        "messages": [{"kind": "VALIDATION", "code": "not_found", "field": "userId",
                      "message": "Not found."}]}}
    assert client('mutation { createGroup(name: "vision-team") { ' + PAYLOAD + " } }").data == {
        "createGroup": {"messages": [{
            "kind": "VALIDATION", "code": "duplicate_name", "field": "name",
            "message": "'vision-team' already exists in this tenant."}]}}
    removed = client("mutation($g: ID!, $u: ID!) { removeGroupMember(groupId: $g, userId: $u) { "
                     "... on TenantGroup { members { username } } } }",
                     {"g": group["id"], "u": user_id(ada)})
    assert removed.data == {"removeGroupMember": {"members": []}}
    deleted = client("mutation($g: ID!) { deleteGroup(id: $g) { ... on Deletion { deletedId } } }",
                     {"g": group["id"]})
    assert deleted.data == {"deleteGroup": {"deletedId": group["id"]}}
    assert (TenantGroup.objects.count(), ada.groups.count()) == (0, 0)


def test_members_are_listed_to_members_only(admin, default_tenant):
    default_tenant.allow_anonymous_read = True
    default_tenant.save()
    member_view = admin[1](MEMBERS).data["viewer"]["tenant"]["members"]["totalCount"]
    anonymous_result = anonymous()(MEMBERS).data["viewer"]["tenant"]

    assert member_view == 1
    assert anonymous_result == {"members": {"totalCount": 0, "edges": []},
                                "groups": {"edges": []}}


def test_a_user_of_several_tenants_sees_each_membership(maintainer):
    MembershipFactory(user=maintainer, tenant=TenantFactory(slug="acme", organization="ACME"),
                      role=Role.ADMIN)

    data = bearer(login(maintainer.username)["accessToken"])(
        "{ viewer { memberships { tenantSlug organization role } } }").data

    assert data == {"viewer": {"memberships": [
        {"tenantSlug": "acme", "organization": "ACME", "role": "ADMIN"},
        {"tenantSlug": "default", "organization": "Default organization",
         "role": "MAINTAINER"}]}}


def test_users_are_found_by_id_among_the_tenants_members_only(admin, member_factory):
    _, client = admin
    ada, outsider = member_factory(Role.VIEWER, username="ada"), UserFactory(username="outsider")
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on User { username } } }"

    result = client(query, {"ids": [user_id(ada), user_id(outsider), to_base64("User", 987654)]})

    assert result.data == {"nodes": [{"username": "ada"}, None, None]}


# --- existing users of other tenants (issue 21, item 6) ------------------------------------

def test_a_tenant_admin_cannot_enlist_or_detect_a_user_of_another_tenant(admin):
    _, client = admin
    MembershipFactory(user=UserFactory(username="ada"), tenant=TenantFactory(slug="rival"),
                      role=Role.VIEWER)
    UserFactory(username="root", is_superuser=True)  # of no tenant, still not enlistable
    before = database_snapshot()

    answers = {name: client(ADD, {"data": {"username": name, "role": "ADMIN"}}).data
               for name in ("ada", "root", "ghost")}

    # The same answer as for a name nobody has, word for word but for the name itself.
    assert answers == {name: {"addMember": {"messages": [
        {"kind": "VALIDATION", "code": "not_found", "field": "username",
         "message": f"No user {name!r}; give a password to create it."}]}}
        for name in ("ada", "root", "ghost")}
    assert database_snapshot() == before


def test_the_superuser_adds_a_user_of_another_tenant(member_factory):
    superuser = member_factory(Role.ADMIN, username="root", is_superuser=True)
    rival = TenantFactory(slug="rival")
    MembershipFactory(user=UserFactory(username="ada"), tenant=rival, role=Role.VIEWER)
    client = bearer(login(superuser.username)["accessToken"])

    result = client(ADD, {"data": {"username": "ada", "role": "MAINTAINER"}})

    assert result.data == {"addMember": {"user": {"username": "ada"}, "role": "MAINTAINER"}}
    assert sorted(Membership.objects.filter(user__username="ada")
                  .values_list("tenant__slug", "role")) == [("default", Role.MAINTAINER),
                                                           ("rival", Role.VIEWER)]
