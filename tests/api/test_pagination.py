"""Cursor pagination of every list: `page_size` within its documented bounds (1–200) or
400, never a silent fallback to another size; a cursor that is not ours is a JSON 404."""

import pytest

from .conftest import make_deal

LISTS = [
    "/api/v1/deals/",
    "/api/v1/plans/",
    "/api/v1/milestones/",
    "/api/v1/stakeholders/",
    "/api/v1/templates/",
    "/api/v1/date-changes/",
    "/api/v1/activity/",
    "/api/v1/signatures/",
]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize("page_size", ["0", "-1", "201", "1000", "abc", "1.5", "", "null"])
def test_list_page_size_out_of_bounds_is_400(api, url, page_size):
    response = api.get(url, {"page_size": page_size})

    assert response.status_code == 400
    assert list(response.json()) == ["page_size"]


@pytest.mark.parametrize("page_size", [1, 200])
def test_list_page_size_bounds_are_accepted_and_kept_in_next(api, acme, alice, page_size):
    for n in range(page_size + 1):
        make_deal(acme, alice, account_name=f"A{n}")

    first = api.get("/api/v1/deals/", {"page_size": page_size}).json()
    second = api.get(first["next"]).json()

    assert len(first["results"]) == page_size
    assert f"page_size={page_size}" in first["next"]
    assert len(second["results"]) == 1


def test_list_unknown_cursor_is_json_404(api):
    response = api.get("/api/v1/deals/", {"cursor": "not-ours"})

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Invalid cursor"}
