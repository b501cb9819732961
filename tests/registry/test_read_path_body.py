"""The peer benchmark's read queries answer these exact bytes on a small fixed data set.

Pinned before the read path was optimised: any speed-up must leave the bodies identical.
The documents are bench/peer/registry_driver.py's (its page query and its filters).
"""

import datetime
import json

import pytest
from django.test import Client
from strawberry.relay import to_base64

from registry.models import ModelVersion, RegisteredModel, Tag
from tests.factories import ModelVersionFactory

VERSION_FIELDS = "id version description source state scanStatus createdAt updatedAt"
PAGE = ("query Page($filters: RegisteredModelFilter, $first: Int!) {"
        " models(filters: $filters, order: {name: ASC}, first: $first) {"
        " pageInfo { hasNextPage endCursor }"
        " edges { node { id name description createdAt updatedAt tags { name } "
        f"latestVersion {{ {VERSION_FIELDS} }} }} }} }} }}")
FILTERS = {"all": None, "tag": {"tags": ["prod"]},
           "prefix": {"name": {"startsWith": "bench-"}}}
WHEN = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)


@pytest.fixture
def catalog(maintainer, default_tenant):
    prod = Tag.objects.create(tenant=default_tenant, name="prod")
    ids = {}
    for name, tagged, versions in [("bench-b", True, 2), ("bench-a", False, 1),
                                   ("other", True, 0), ("bench-c", True, 3)]:
        model = RegisteredModel.objects.create(tenant=default_tenant, owner=maintainer,
                                               name=name, description=f"about {name}")
        if tagged:
            model.tags.add(prod)
        ids[f"<{name}>"] = to_base64("RegisteredModel", model.pk)
        for n in range(1, versions + 1):
            version = ModelVersionFactory(model=model, version=f"{n}.0.0",
                                          description=f"{name} v{n}")
            ids[f"<{name} v{n}>"] = to_base64("ModelVersion", version.pk)
    RegisteredModel.objects.update(created_at=WHEN, updated_at=WHEN)
    ModelVersion.objects.update(created_at=WHEN, updated_at=WHEN)
    client = Client()
    client.force_login(maintainer)
    return client, ids


BODIES = {
    ('all', 2): (
        '{"data":{"models":{"pageInfo":{"hasNextPage":true,"endCursor":"YXJyYXljb25uZWN0aW9uOjE="'
        '},"edges":[{"node":{"id":"<bench-a>","name":"bench-a","description":"about bench-a","cre'
        'atedAt":"2026-01-02T03:04:05.678000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00'
        '","tags":[],"latestVersion":{"id":"<bench-a v1>","version":"1.0.0","description":"bench-'
        'a v1","source":"","state":"LIVE","scanStatus":"CLEAN","createdAt":"2026-01-02T03:04:05.6'
        '78000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00"}}},{"node":{"id":"<bench-b>"'
        ',"name":"bench-b","description":"about bench-b","createdAt":"2026-01-02T03:04:05.678000+'
        '00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00","tags":[{"name":"prod"}],"latestVe'
        'rsion":{"id":"<bench-b v2>","version":"2.0.0","description":"bench-b v2","source":"","st'
        'ate":"LIVE","scanStatus":"CLEAN","createdAt":"2026-01-02T03:04:05.678000+00:00","updated'
        'At":"2026-01-02T03:04:05.678000+00:00"}}}]}}}'
    ),
    ('all', 100): (
        '{"data":{"models":{"pageInfo":{"hasNextPage":false,"endCursor":"YXJyYXljb25uZWN0aW9uOjM='
        '"},"edges":[{"node":{"id":"<bench-a>","name":"bench-a","description":"about bench-a","cr'
        'eatedAt":"2026-01-02T03:04:05.678000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:0'
        '0","tags":[],"latestVersion":{"id":"<bench-a v1>","version":"1.0.0","description":"bench'
        '-a v1","source":"","state":"LIVE","scanStatus":"CLEAN","createdAt":"2026-01-02T03:04:05.'
        '678000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00"}}},{"node":{"id":"<bench-b>'
        '","name":"bench-b","description":"about bench-b","createdAt":"2026-01-02T03:04:05.678000'
        '+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00","tags":[{"name":"prod"}],"latestV'
        'ersion":{"id":"<bench-b v2>","version":"2.0.0","description":"bench-b v2","source":"","s'
        'tate":"LIVE","scanStatus":"CLEAN","createdAt":"2026-01-02T03:04:05.678000+00:00","update'
        'dAt":"2026-01-02T03:04:05.678000+00:00"}}},{"node":{"id":"<bench-c>","name":"bench-c","d'
        'escription":"about bench-c","createdAt":"2026-01-02T03:04:05.678000+00:00","updatedAt":"'
        '2026-01-02T03:04:05.678000+00:00","tags":[{"name":"prod"}],"latestVersion":{"id":"<bench'
        '-c v3>","version":"3.0.0","description":"bench-c v3","source":"","state":"LIVE","scanSta'
        'tus":"CLEAN","createdAt":"2026-01-02T03:04:05.678000+00:00","updatedAt":"2026-01-02T03:0'
        '4:05.678000+00:00"}}},{"node":{"id":"<other>","name":"other","description":"about other"'
        ',"createdAt":"2026-01-02T03:04:05.678000+00:00","updatedAt":"2026-01-02T03:04:05.678000+'
        '00:00","tags":[{"name":"prod"}],"latestVersion":null}}]}}}'
    ),
    ('tag', 2): (
        '{"data":{"models":{"pageInfo":{"hasNextPage":true,"endCursor":"YXJyYXljb25uZWN0aW9uOjE="'
        '},"edges":[{"node":{"id":"<bench-b>","name":"bench-b","description":"about bench-b","cre'
        'atedAt":"2026-01-02T03:04:05.678000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00'
        '","tags":[{"name":"prod"}],"latestVersion":{"id":"<bench-b v2>","version":"2.0.0","descr'
        'iption":"bench-b v2","source":"","state":"LIVE","scanStatus":"CLEAN","createdAt":"2026-0'
        '1-02T03:04:05.678000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00"}}},{"node":{"'
        'id":"<bench-c>","name":"bench-c","description":"about bench-c","createdAt":"2026-01-02T0'
        '3:04:05.678000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00","tags":[{"name":"pr'
        'od"}],"latestVersion":{"id":"<bench-c v3>","version":"3.0.0","description":"bench-c v3",'
        '"source":"","state":"LIVE","scanStatus":"CLEAN","createdAt":"2026-01-02T03:04:05.678000+'
        '00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00"}}}]}}}'
    ),
    ('tag', 100): (
        '{"data":{"models":{"pageInfo":{"hasNextPage":false,"endCursor":"YXJyYXljb25uZWN0aW9uOjI='
        '"},"edges":[{"node":{"id":"<bench-b>","name":"bench-b","description":"about bench-b","cr'
        'eatedAt":"2026-01-02T03:04:05.678000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:0'
        '0","tags":[{"name":"prod"}],"latestVersion":{"id":"<bench-b v2>","version":"2.0.0","desc'
        'ription":"bench-b v2","source":"","state":"LIVE","scanStatus":"CLEAN","createdAt":"2026-'
        '01-02T03:04:05.678000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00"}}},{"node":{'
        '"id":"<bench-c>","name":"bench-c","description":"about bench-c","createdAt":"2026-01-02T'
        '03:04:05.678000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00","tags":[{"name":"p'
        'rod"}],"latestVersion":{"id":"<bench-c v3>","version":"3.0.0","description":"bench-c v3"'
        ',"source":"","state":"LIVE","scanStatus":"CLEAN","createdAt":"2026-01-02T03:04:05.678000'
        '+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00"}}},{"node":{"id":"<other>","name"'
        ':"other","description":"about other","createdAt":"2026-01-02T03:04:05.678000+00:00","upd'
        'atedAt":"2026-01-02T03:04:05.678000+00:00","tags":[{"name":"prod"}],"latestVersion":null'
        '}}]}}}'
    ),
    ('prefix', 2): (
        '{"data":{"models":{"pageInfo":{"hasNextPage":true,"endCursor":"YXJyYXljb25uZWN0aW9uOjE="'
        '},"edges":[{"node":{"id":"<bench-a>","name":"bench-a","description":"about bench-a","cre'
        'atedAt":"2026-01-02T03:04:05.678000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00'
        '","tags":[],"latestVersion":{"id":"<bench-a v1>","version":"1.0.0","description":"bench-'
        'a v1","source":"","state":"LIVE","scanStatus":"CLEAN","createdAt":"2026-01-02T03:04:05.6'
        '78000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00"}}},{"node":{"id":"<bench-b>"'
        ',"name":"bench-b","description":"about bench-b","createdAt":"2026-01-02T03:04:05.678000+'
        '00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00","tags":[{"name":"prod"}],"latestVe'
        'rsion":{"id":"<bench-b v2>","version":"2.0.0","description":"bench-b v2","source":"","st'
        'ate":"LIVE","scanStatus":"CLEAN","createdAt":"2026-01-02T03:04:05.678000+00:00","updated'
        'At":"2026-01-02T03:04:05.678000+00:00"}}}]}}}'
    ),
    ('prefix', 100): (
        '{"data":{"models":{"pageInfo":{"hasNextPage":false,"endCursor":"YXJyYXljb25uZWN0aW9uOjI='
        '"},"edges":[{"node":{"id":"<bench-a>","name":"bench-a","description":"about bench-a","cr'
        'eatedAt":"2026-01-02T03:04:05.678000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:0'
        '0","tags":[],"latestVersion":{"id":"<bench-a v1>","version":"1.0.0","description":"bench'
        '-a v1","source":"","state":"LIVE","scanStatus":"CLEAN","createdAt":"2026-01-02T03:04:05.'
        '678000+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00"}}},{"node":{"id":"<bench-b>'
        '","name":"bench-b","description":"about bench-b","createdAt":"2026-01-02T03:04:05.678000'
        '+00:00","updatedAt":"2026-01-02T03:04:05.678000+00:00","tags":[{"name":"prod"}],"latestV'
        'ersion":{"id":"<bench-b v2>","version":"2.0.0","description":"bench-b v2","source":"","s'
        'tate":"LIVE","scanStatus":"CLEAN","createdAt":"2026-01-02T03:04:05.678000+00:00","update'
        'dAt":"2026-01-02T03:04:05.678000+00:00"}}},{"node":{"id":"<bench-c>","name":"bench-c","d'
        'escription":"about bench-c","createdAt":"2026-01-02T03:04:05.678000+00:00","updatedAt":"'
        '2026-01-02T03:04:05.678000+00:00","tags":[{"name":"prod"}],"latestVersion":{"id":"<bench'
        '-c v3>","version":"3.0.0","description":"bench-c v3","source":"","state":"LIVE","scanSta'
        'tus":"CLEAN","createdAt":"2026-01-02T03:04:05.678000+00:00","updatedAt":"2026-01-02T03:0'
        '4:05.678000+00:00"}}}]}}}'
    ),
}

@pytest.mark.parametrize(("search", "first"), list(BODIES))
def test_bench_query_answers_the_pinned_bytes(catalog, search, first):
    client, ids = catalog
    response = client.post("/graphql/", data=json.dumps(
        {"query": PAGE, "variables": {"filters": FILTERS[search], "first": first}}),
        content_type="application/json")

    assert response.status_code == 200
    expected = "".join(BODIES[search, first])
    for token, global_id in ids.items():
        expected = expected.replace(f'"{token}"', f'"{global_id}"')
    assert response.content == expected.encode()
