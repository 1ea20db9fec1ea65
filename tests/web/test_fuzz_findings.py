"""Server errors the API fuzzer found (besides integer bounds), each pinned by a direct test."""

from fastapi.testclient import TestClient

from ganstudio.roles import Role
from tests.factories import bearer


def test_a_non_ascii_set_name_is_found_again_not_inserted_twice(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    headers = bearer(tokens[Role.QA])
    created = client.post("/api/v1/sets", json={"name": "Éclairage À"}, headers=headers)
    assert created.status_code == 201, created.text
    again = client.post("/api/v1/sets", json={"name": "Éclairage À"}, headers=headers)
    assert again.status_code == 409, again.text  # was a 500: UNIQUE constraint failed
    upload = client.post(
        "/api/v1/samples",
        files=[("files", ("empty.png", b"", "image/png"))],
        data={"set": "Éclairage À"},
        headers=headers,
    )
    assert upload.status_code < 500, upload.text


def test_renaming_a_tag_whose_name_holds_a_comma_is_not_found(
    client: TestClient, tokens: dict[Role, str]
) -> None:
    response = client.patch(
        "/api/v1/tags/smile,glasses", json={"name": "happy"}, headers=bearer(tokens[Role.QA])
    )
    assert response.status_code == 404, response.text  # was a 500: too many values to unpack
    assert "No tag is named 'smile,glasses'" in response.json()["detail"]
