"""Who may use the server and from where, over real HTTP: a public address needs a token;
with one, the API needs Bearer (or the login cookie plus X-CSRF-Token for changes), the
pages need a login, cross-site changes are refused, and no response carries a secret."""
from __future__ import annotations

import pytest
import requests
from conftest import ProjectFactory
from web_fixtures import PIPELINES, SLACK, TOKEN, secured, server_module  # noqa: F401

from dataflow import InvalidInput, Project
from dataflow.web.api import route_table


def test_a_public_address_needs_a_token(tmp_path, store_env):
    project = Project(ProjectFactory(tmp_path)(PIPELINES))
    with pytest.raises(InvalidInput, match="without an admin token"):
        server_module().start_server(project, "0.0.0.0", 0)


def test_the_api_needs_the_token(secured):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        reply = secured.get("/api/plugins", auth=False, headers=headers)
        assert reply.status_code == 401 and reply.json()["error"], headers
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert secured.get("/api/plugins").status_code == 200
    assert secured.get("/metrics", auth=False).status_code == 401
    assert secured.get("/metrics").status_code == 200
    assert secured.get("/health", auth=False).status_code == 200
    assert secured.post("/api/runs/cancel", auth=False).status_code == 401


def test_cross_site_changes_are_refused(secured):
    evil = {"Origin": "http://evil.example"}
    for headers in (evil, {"Referer": "http://evil.example/page"}, {"Origin": "null"}):
        reply = secured.post("/api/runs/cancel", headers=headers)
        assert reply.status_code == 403 and "cross-site" in reply.json()["error"], headers
    reply = secured.call("POST", "/api/runs/cancel", data={"pipeline": "quick"})
    assert reply.status_code == 415 and "application/json" in reply.json()["error"]
    reply = secured.call("POST", "/api/runs/cancel", data="{}",
                         headers={"Content-Type": "text/plain"})
    assert reply.status_code == 415
    same = {"Origin": secured.url}
    assert secured.post("/api/runs/cancel", headers=same).json()["matched"] == 0
    assert secured.post("/login", auth=False, headers=evil).status_code == 403


def login(secured) -> requests.Session:
    session = requests.Session()
    page = session.get(secured.url + "/", timeout=30)
    assert page.url.startswith(secured.url + "/login") and "admin token" in page.text
    wrong = session.post(secured.url + "/login", data={"token": "nope", "next": "/"})
    assert wrong.status_code == 401 and "not the admin token" in wrong.text
    done = session.post(secured.url + "/login", data={"token": TOKEN, "next": "/"},
                        allow_redirects=False, timeout=30)
    assert done.status_code == 302 and done.headers["Location"] == "/"
    cookie = next(c for c in done.raw.headers.getlist("Set-Cookie")
                  if c.startswith("dataflow_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    return session


def test_the_pages_need_a_login_and_the_cookie_works_for_the_api(secured):
    session = login(secured)
    home = session.get(secured.url + "/", timeout=30)
    assert home.status_code == 200 and home.url == secured.url + "/"
    assert session.get(secured.url + "/api/plugins", timeout=30).status_code == 200
    change = secured.url + "/api/runs/cancel"
    refused = session.post(change, json={}, timeout=30)
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["error"]
    forged = session.post(change, json={}, headers={"X-CSRF-Token": "guess"}, timeout=30)
    assert forged.status_code == 403
    csrf = session.cookies["dataflow_csrf"]
    assert session.post(change, json={}, headers={"X-CSRF-Token": csrf},
                        timeout=30).status_code == 200
    outside = session.get(secured.url + "/login?next=//evil.example/x", timeout=30)
    assert "//evil.example" not in outside.text
    session.get(secured.url + "/logout", timeout=30)
    assert session.get(secured.url + "/api/plugins", timeout=30).status_code == 401


def test_no_response_carries_a_secret(secured):
    settings = secured.project.settings
    assert (settings.ui_token, settings.slack_webhook_url) == (TOKEN, SLACK)
    texts = []
    for route in route_table():
        if route.method == "GET" and not route.path_params:
            query = "?a=x&b=y" if route.path.endswith("compare") else ""
            texts.append(secured.get(route.path + query).text)
    for plugin in ("quick", "slow"):
        for what in ("config?pipeline=quick", "config_ui", "status"):
            texts.append(secured.get(f"/api/plugins/{plugin}/{what}").text)
    texts.append(secured.get("/login", auth=False).text)
    texts.append(secured.get("/api/nope", auth=False).text)
    for text in texts:
        assert TOKEN not in text and "slack-secret" not in text
