"""The real MLflow client (mlflow-skinny, pinned in the dev dependencies) against a live
server: `MlflowClient` over HTTP, authenticated with our API tokens as MLFLOW_TRACKING_TOKEN."""

import pytest

from accounts.models import Role
from accounts.selectors import actor_for
from accounts.services import api_token_create
from tests.factories import MembershipFactory, TenantFactory


@pytest.fixture(autouse=True)
def _mlflow_environment(monkeypatch):
    # A refused request must fail the test at once, not after the client's retries.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.delenv("MLFLOW_WORKSPACE", raising=False)


def token_of(user, tenant, scopes=("read", "write")) -> str:
    return api_token_create(actor=actor_for(user=user, tenant=tenant), name="mlflow",
                            scopes=list(scopes))[1]


@pytest.fixture
def server(live_server, default_tenant) -> str:
    return live_server.url


@pytest.fixture
def client(server):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=server, registry_uri=server)


@pytest.fixture
def as_user(monkeypatch):
    """Makes the client act with `token` from now on (the client reads it per request)."""

    def use(token: str | None) -> None:
        if token is None:
            monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
        else:
            monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)

    return use


@pytest.fixture
def maintainer_token(member_factory, default_tenant, as_user) -> str:
    user = member_factory(Role.MAINTAINER, username="ada")
    token = token_of(user, default_tenant)
    as_user(token)
    return token


@pytest.fixture
def other_tenant():
    return TenantFactory(slug="acme")


@pytest.fixture
def stranger_token(other_tenant) -> str:
    """A maintainer of another tenant."""
    membership = MembershipFactory(tenant=other_tenant, role=Role.MAINTAINER,
                                   user__username="wile")
    return token_of(membership.user, other_tenant)


@pytest.fixture
def add_file(default_tenant):
    """Stores `content` as `path` of the model's MLflow version `number`, as `user`; the
    scan runs when the row is committed (in-process in tests)."""
    import io

    from registry.models import ModelVersion
    from registry.services import file_add

    def add(user, model_name: str, number: int, path: str, content: bytes, tenant=None):
        tenant = tenant or default_tenant
        version = ModelVersion.objects.get(model__tenant=tenant, model__name=model_name,
                                           version=f"{number}.0.0")
        return file_add(actor=actor_for(user=user, tenant=tenant), version=version, path=path,
                        stream=io.BytesIO(content), declared_size=len(content))

    return add


@pytest.fixture
def tracking(server, maintainer_token):
    """MLflow's fluent API (`mlflow.start_run`, `register_model`) pointed at the server."""
    import mlflow

    mlflow.set_tracking_uri(server)
    mlflow.set_registry_uri(server)
    yield
    mlflow.end_run()
