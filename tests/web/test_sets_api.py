"""The sample sets API: create, order, add by tag, archive and restore, counts and covers."""

from fastapi.testclient import TestClient

from ganstudio.roles import Role
from tests import imagegen
from tests.factories import bearer
from tests.web.samples_helpers import upload


def make_samples(client: TestClient, token: str, count: int, tags: str = "") -> list[int]:
    files = [(f"s{i}.png", imagegen.distinct_png(300 + i)) for i in range(count)]
    return [c["id"] for c in upload(client, token, files, tags=tags)["created"]]


def test_set_lifecycle_order_archive_restore(client: TestClient, tokens: dict[Role, str]) -> None:
    headers = bearer(tokens[Role.QA])
    a, b, c = make_samples(client, tokens[Role.QA], 3)
    created = client.post(
        "/api/v1/sets", json={"name": "Smiles", "description": "<i>mouth</i> open"}, headers=headers
    )
    assert created.status_code == 201
    set_id = created.json()["id"]
    assert created.json()["sample_ids"] == []
    dup = client.post("/api/v1/sets", json={"name": "smiles"}, headers=headers)
    assert dup.status_code == 409
    assert "already exists" in dup.json()["detail"]

    put = client.put(
        f"/api/v1/sets/{set_id}/samples", json={"sample_ids": [c, a, b]}, headers=headers
    )
    assert put.json()["sample_ids"] == [c, a, b]
    reordered = client.put(
        f"/api/v1/sets/{set_id}/samples", json={"sample_ids": [b, c]}, headers=headers
    ).json()
    assert reordered["sample_ids"] == [b, c]
    assert reordered["sample_count"] == 2
    assert len(reordered["cover_urls"]) == 2

    renamed = client.patch(
        f"/api/v1/sets/{set_id}",
        json={"name": "Big smiles", "description": "teeth"},
        headers=headers,
    ).json()
    assert (renamed["name"], renamed["description"]) == ("Big smiles", "teeth")

    archived = client.patch(f"/api/v1/sets/{set_id}", json={"archived": True}, headers=headers)
    assert archived.json()["archived"] is True
    assert client.get("/api/v1/sets", headers=headers).json()["total"] == 0
    assert client.get("/api/v1/sets?archived=true", headers=headers).json()["total"] == 1
    frozen = client.put(f"/api/v1/sets/{set_id}/samples", json={"sample_ids": [a]}, headers=headers)
    assert frozen.status_code == 409
    assert "restore it" in frozen.json()["detail"]
    restored = client.patch(f"/api/v1/sets/{set_id}", json={"archived": False}, headers=headers)
    assert restored.json()["archived"] is False
    assert restored.json()["sample_ids"] == [b, c]
    assert client.delete(f"/api/v1/sets/{set_id}", headers=headers).status_code == 405


def test_members_must_exist_and_be_unique(client: TestClient, tokens: dict[Role, str]) -> None:
    headers = bearer(tokens[Role.QA])
    [a] = make_samples(client, tokens[Role.QA], 1)
    set_id = client.post("/api/v1/sets", json={"name": "S"}, headers=headers).json()["id"]
    missing = client.put(
        f"/api/v1/sets/{set_id}/samples", json={"sample_ids": [a, 404]}, headers=headers
    )
    assert missing.status_code == 404
    repeated = client.put(
        f"/api/v1/sets/{set_id}/samples", json={"sample_ids": [a, a]}, headers=headers
    )
    assert repeated.status_code == 422
    assert client.get(f"/api/v1/sets/{set_id}", headers=headers).json()["sample_ids"] == []
    assert client.get("/api/v1/sets/999", headers=headers).status_code == 404
    blank = client.post("/api/v1/sets", json={"name": "   "}, headers=headers)
    assert blank.status_code == 422


def test_add_by_tag_appends_only_new_live_samples(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    headers = bearer(tokens[Role.QA])
    tagged = make_samples(client, tokens[Role.QA], 3, tags="glasses")
    client.patch(f"/api/v1/samples/{tagged[2]}", json={"archived": True}, headers=headers)
    set_id = client.post("/api/v1/sets", json={"name": "Glasses"}, headers=headers).json()["id"]
    client.put(f"/api/v1/sets/{set_id}/samples", json={"sample_ids": [tagged[1]]}, headers=headers)
    added = client.post(
        f"/api/v1/sets/{set_id}/samples", json={"tag": "glasses"}, headers=headers
    ).json()
    assert added["sample_ids"] == [tagged[1], tagged[0]]


def test_a_sample_in_a_set_is_archived_never_deleted(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    headers = bearer(tokens[Role.QA])
    [a] = make_samples(client, tokens[Role.QA], 1)
    set_id = client.post("/api/v1/sets", json={"name": "Keep"}, headers=headers).json()["id"]
    client.put(f"/api/v1/sets/{set_id}/samples", json={"sample_ids": [a]}, headers=headers)
    client.patch(f"/api/v1/samples/{a}", json={"archived": True}, headers=headers)
    kept = client.get(f"/api/v1/sets/{set_id}", headers=headers).json()
    assert kept["sample_ids"] == [a]
    assert client.get(f"/api/v1/samples/{a}", headers=headers).json()["archived"] is True


def test_sets_list_is_paginated_with_counts(client: TestClient, tokens: dict[Role, str]) -> None:
    headers = bearer(tokens[Role.QA])
    ids = make_samples(client, tokens[Role.QA], 5)
    for i in range(5):
        set_id = client.post("/api/v1/sets", json={"name": f"set {i}"}, headers=headers).json()[
            "id"
        ]
        client.put(
            f"/api/v1/sets/{set_id}/samples", json={"sample_ids": ids[: i + 1]}, headers=headers
        )
    page = client.get("/api/v1/sets?per_page=2&page=2", headers=headers).json()
    assert page["total"] == 5
    assert [(s["name"], s["sample_count"], len(s["cover_urls"])) for s in page["items"]] == [
        ("set 2", 3, 3),
        ("set 3", 4, 4),
    ]
    viewer = bearer(tokens[Role.VIEWER])
    assert client.get("/api/v1/sets", headers=viewer).status_code == 200
    refused = client.patch(f"/api/v1/sets/{set_id}", json={"archived": True}, headers=viewer)
    assert refused.status_code == 403
