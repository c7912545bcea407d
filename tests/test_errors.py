"""A database that does not answer gets a clear 503 page (JSON under /api/), not a
traceback; other errors a plain 500 page. Neither page queries the database."""

import contextlib

from django.db import OperationalError, connection
from django.test import Client, RequestFactory

from config.errors import server_error


@contextlib.contextmanager
def database_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed')

    with monkeypatch.context() as patched:
        patched.setattr(connection, "ensure_connection", refuse)
        patched.setattr(connection, "cursor", refuse)
        yield


def test_pages_answer_503_with_a_clear_page_when_the_database_is_down(monkeypatch, alice):
    browser = Client(raise_request_exception=False)
    browser.force_login(alice)

    with database_down(monkeypatch):
        response = browser.get("/")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert b"Back in a moment" in response.content
    assert b"Traceback" not in response.content and b"OperationalError" not in response.content


def test_api_answers_json_503_when_the_database_is_down(monkeypatch, db):
    api = Client(raise_request_exception=False)

    with database_down(monkeypatch):
        response = api.get("/api/v1/deals/", HTTP_AUTHORIZATION="Bearer tdm_x")

    assert response.status_code == 503
    assert response.json() == {
        "detail": "The service is temporarily unavailable; try again shortly."
    }


def test_other_errors_get_the_plain_500_page_without_queries(db, django_assert_num_queries):
    request = RequestFactory().get("/o/acme/")
    try:
        raise ValueError("a bug")
    except ValueError:
        with django_assert_num_queries(0):
            response = server_error(request)

    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    assert b"a bug" not in response.content
