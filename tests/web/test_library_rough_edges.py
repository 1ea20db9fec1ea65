"""Sets reorder by positions and take samples in upload order; bulk updates via the API."""

from fastapi.testclient import TestClient

from ganstudio.roles import Role
from tests import imagegen
from tests.factories import bearer
from tests.web.samples_helpers import upload


def make_samples(client: TestClient, token: str, count: int) -> list[int]:
    files = [(f"r{i}.png", imagegen.distinct_png(700 + i)) for i in range(count)]
    return [c["id"] for c in upload(client, token, files)["created"]]


def test_added_samples_land_in_upload_order_and_moves_take_their_place(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    headers = bearer(tokens[Role.QA])
    a, b, c, d = make_samples(client, tokens[Role.QA], 4)
    set_id = client.post("/api/v1/sets", json={"name": "Moves"}, headers=headers).json()["id"]
    added = client.post(
        f"/api/v1/sets/{set_id}/samples", json={"sample_ids": [d, b, a, c]}, headers=headers
    )
    assert added.json()["sample_ids"] == [a, b, c, d]

    order = f"/api/v1/sets/{set_id}/samples/order"
    up = client.post(order, json={"moves": [{"sample_id": d, "position": 2}]}, headers=headers)
    assert up.json()["sample_ids"] == [a, d, b, c]  # moved up: before the one that was 2nd
    down = client.post(order, json={"moves": [{"sample_id": a, "position": 3}]}, headers=headers)
    assert down.json()["sample_ids"] == [d, b, a, c]  # moved down: after the one that was 3rd
    clamped = client.post(
        order,
        json={"moves": [{"sample_id": c, "position": 1}, {"sample_id": d, "position": 99}]},
        headers=headers,
    )
    assert clamped.json()["sample_ids"] == [c, b, a, d]

    stranger = make_samples(client, tokens[Role.QA], 5)[-1]
    refused = client.post(
        order, json={"moves": [{"sample_id": stranger, "position": 1}]}, headers=headers
    )
    assert refused.status_code == 404
    assert "not in the set 'Moves'" in refused.json()["detail"]
    bad = client.post(order, json={"moves": [{"sample_id": a, "position": 0}]}, headers=headers)
    assert bad.status_code == 422


def test_bulk_update_adds_to_a_new_set_and_says_what_it_did(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    headers = bearer(tokens[Role.QA])
    a, b, c = make_samples(client, tokens[Role.QA], 3)
    done = client.post(
        "/api/v1/samples/bulk",
        json={"ids": [c, a], "add_tags": ["Dark"], "set": "Bulk made"},
        headers=headers,
    ).json()
    assert done["updated"] == 2
    assert done["message"] == (
        "Tagged 2 sample(s) with dark. Added 2 sample(s) to the set 'Bulk made'."
    )
    members = client.get(f"/api/v1/sets/{done['set']['id']}", headers=headers).json()
    assert members["sample_ids"] == [a, c]
    nothing = client.post("/api/v1/samples/bulk", json={"ids": [b]}, headers=headers)
    assert nothing.status_code == 422
    assert "Say what to do" in nothing.json()["detail"]
    blank = client.post("/api/v1/samples/bulk", json={"ids": [b], "set": " "}, headers=headers)
    assert blank.status_code == 422
    assert "Pick a set" in blank.json()["detail"]
