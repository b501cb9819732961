"""What a newcomer meets first: a landing page at `/`, GraphiQL that loads without internet,
and static files served by the application server itself (WhiteNoise)."""

import base64
import hashlib
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client

ASSET = re.compile(r'(?:src|href)="([^"]+)"\s+integrity="(sha384-[^"]+)"')


def test_the_root_is_a_landing_page_with_links_to_the_admin_graphiql_and_health(db):
    response = Client().get("/")

    page = response.content.decode()
    assert response.status_code == 200
    assert re.findall(r'href="([^"]+)"', page) == ["/admin/", "/graphql/", "/health/"]


def test_graphiql_loads_every_script_and_style_from_the_project(db):
    page = Client().get("/graphql/", headers={"Accept": "text/html"}).content.decode()

    assets = ASSET.findall(page)
    assert [url for url, _ in assets] == [
        "/static/graphiql/react.production.min.js",
        "/static/graphiql/react-dom.production.min.js",
        "/static/graphiql/js.cookie.min.js",
        "/static/graphiql/graphiql.min.css",
        "/static/graphiql/plugin-explorer.css",
        "/static/graphiql/graphiql.min.js",
        "/static/graphiql/plugin-explorer.umd.js",
    ]
    assert "https://" not in page
    # The vendored files are the ones the integrity hashes name, so browsers accept them.
    for url, integrity in assets:
        with open(finders.find(url.removeprefix("/static/")), "rb") as file:
            digest = base64.b64encode(hashlib.sha384(file.read()).digest()).decode()
        assert integrity == f"sha384-{digest}", url


@pytest.fixture
def collected_static(settings, tmp_path):
    """`collectstatic` into a fresh folder, as `make serve` and the image do."""
    settings.STATIC_ROOT = str(tmp_path)
    settings.DEBUG = False
    call_command("collectstatic", "--noinput", verbosity=0)
    return tmp_path


@pytest.mark.parametrize("path", ["admin/css/base.css", "graphiql/graphiql.min.js"])
def test_the_application_serves_collected_static_files(db, collected_static, path):
    response = Client().get(f"/static/{path}")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (collected_static / path).read_bytes()
