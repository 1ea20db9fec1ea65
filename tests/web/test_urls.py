"""The one place that spells URLs, the one open-redirect rule, and the one pager rule."""

import pytest

from ganstudio.web.pagination import page_count, pager
from ganstudio.web.urls import blob_url, local_url


def test_blob_urls_are_spelled_in_one_place() -> None:
    assert blob_url("ab" * 32) == "/blobs/" + "ab" * 32
    assert blob_url(None) is None and blob_url("") is None


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x", ""]
)
def test_redirect_targets_off_this_site_fall_back(target: str) -> None:
    assert local_url(target, "/samples") == "/samples"


def test_redirect_targets_on_this_site_are_kept() -> None:
    assert local_url("/samples?tag=a&page=2") == "/samples?tag=a&page=2"
    assert local_url(None) == "/"


def test_page_count_has_at_least_one_page_and_rounds_up() -> None:
    assert [page_count(n, 50) for n in (0, 1, 50, 51, 1200)] == [1, 1, 1, 2, 24]
    context = pager(page=2, total=101, per_page=50, base_query="tag=a", noun="samples")
    assert context == {
        "page": 2,
        "pages": 3,
        "total": 101,
        "per_page": 50,
        "base_query": "tag=a",
        "noun": "samples",
    }
