"""What the portal refuses, over plain HTTP as an attacker would send it: every
page to a signed-out browser, a form without its CSRF token, an account after
repeated failures, another organisation's pages; and what it sends with every
page (the CSP, cookies' flags)."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
import yaml

from services.portal.app import make_app  # noqa: F401  (registers every page)
from services.portal.auth import PUBLIC
from services.portal.web import ROUTES
from tests.stack import ROOT

pytestmark = pytest.mark.infra


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def signed_in(portal, who) -> requests.Session:
    s = requests.Session()
    form = s.get(f"{portal.url}/sign-in", timeout=30)
    reply = s.post(f"{portal.url}/sign-in", timeout=30, data={
        "csrf": csrf_of(form.text), "staff_id": who.id, "password": who.password})
    if who.secret:
        assert reply.url.endswith("/sign-in/code"), reply.text
        reply = s.post(f"{portal.url}/sign-in/code", timeout=30,
                       data={"csrf": csrf_of(reply.text), "code": who.code()})
    assert reply.url == f"{portal.url}/", reply.text
    return s


def filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_route_is_a_guarded_page_or_one_of_the_sign_in_and_admin_routes():
    public = {(r.path, m) for r in PUBLIC for m in r.methods}
    for route in ROUTES:
        assert getattr(route.endpoint, "tiaki_page", False), route.path
    assert {p for p, _ in public} == {"/sign-in", "/sign-in/code", "/admin/api/staff",
                                      "/admin/api/staff/{staff_id}/disable"}


def test_no_page_is_served_to_a_signed_out_browser(portal):
    for route in ROUTES:
        for method in route.methods - {"HEAD"}:
            reply = requests.request(method, f"{portal.url}{filled(route.path)}", timeout=30,
                                     allow_redirects=False, data={"csrf": "x"})
            if method == "GET":
                assert (reply.status_code, reply.headers["location"]) == (303, "/sign-in"), route.path
            else:
                assert reply.status_code == 401, route.path


def test_a_form_without_its_csrf_token_is_refused(portal):
    who = portal.person("privacy-officer")
    s = signed_in(portal, who)
    for data in ({}, {"csrf": "forged"}):
        reply = s.post(f"{portal.url}/sign-out", data=data, timeout=30, allow_redirects=False)
        assert reply.status_code == 403
        assert "security token" in reply.text
    assert s.get(f"{portal.url}/account", timeout=30).url.endswith("/account"), "still signed in"
    # The sign-in form too: a password sent without the page's token is not even checked.
    fresh = requests.post(f"{portal.url}/sign-in", timeout=30,
                          data={"staff_id": who.id, "password": who.password})
    assert fresh.status_code == 403


def test_an_account_locks_after_repeated_failures(portal):
    who = portal.person("reporting-admin")
    s = requests.Session()
    for attempt in range(5):
        form = s.get(f"{portal.url}/sign-in", timeout=30)
        reply = s.post(f"{portal.url}/sign-in", timeout=30, data={
            "csrf": csrf_of(form.text), "staff_id": who.id, "password": "wrong password"})
        assert reply.status_code == (423 if attempt == 4 else 400)
    form = s.get(f"{portal.url}/sign-in", timeout=30)
    reply = s.post(f"{portal.url}/sign-in", timeout=30, data={
        "csrf": csrf_of(form.text), "staff_id": who.id, "password": who.password})
    assert reply.status_code == 423 and "locked" in reply.text, "the right password does not open it"
    listed = portal.admin("GET", "/admin/api/staff").json()["staff"]
    assert next(s for s in listed if s["id"] == who.id)["locked_until"]


def test_a_disabled_account_is_signed_out_and_cannot_sign_in(portal):
    who = portal.person("privacy-officer")
    s = signed_in(portal, who)
    assert portal.admin("POST", f"/admin/api/staff/{who.id}/disable").status_code == 200
    assert s.get(f"{portal.url}/account", timeout=30).url.endswith("/sign-in")
    form = s.get(f"{portal.url}/sign-in", timeout=30)
    reply = s.post(f"{portal.url}/sign-in", timeout=30, data={
        "csrf": csrf_of(form.text), "staff_id": who.id, "password": who.password})
    assert reply.status_code == 400


def test_another_kind_of_organisations_pages_are_refused(portal):
    provider_pages = [r for r in ROUTES if "GET" in r.methods and r.path.startswith("/provider")]
    s = signed_in(portal, portal.person("analyst", "agency", "agency"))
    for route in provider_pages:
        reply = s.get(f"{portal.url}{filled(route.path)}", timeout=30)
        assert reply.status_code == 403, route.path


def test_every_page_carries_the_csp_and_the_cookie_its_flags(portal):
    reply = requests.get(f"{portal.url}/sign-in", timeout=30)
    csp = reply.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert reply.headers["cache-control"] == "no-store"
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert not re.search(r"<script(?![^>]*\bsrc=)", reply.text), "no inline script"
    assert not re.search(r'(src|href)="(https?:)?//', reply.text), "no asset from elsewhere"


def test_the_admin_api_wants_the_admin_token(portal):
    assert requests.get(f"{portal.url}/admin/api/staff", timeout=30).status_code == 401
    assert requests.get(f"{portal.url}/admin/api/staff", timeout=30,
                        headers={"authorization": "Bearer nope"}).status_code == 401


def test_the_portals_log_holds_no_password_code_secret_cookie_or_client(portal, stack):
    stack.create_plan(yaml.safe_load((ROOT / "programmes" / "best-foot-forward.yaml").read_text()))
    who = portal.person("reporting-admin", org="other-ngo")
    s = signed_in(portal, who)
    marker = f"LEAKME{uuid.uuid4().hex[:8]}"
    body = ("record_ref,client_ref,goals_met\n"
            f"r1,{marker}-client,not-a-value\n")
    form = s.get(f"{portal.url}/provider/upload", timeout=30)
    reply = s.post(f"{portal.url}/provider/upload", timeout=60,
                   data={"csrf": csrf_of(form.text), "programme": "best-foot-forward",
                         "period": "2026Q1"},
                   files={"records": ("q.csv", body, "text/csv")})
    assert "1 rejected" in reply.text, reply.text  # through intake and back
    log = portal.log()
    assert log, "the portal logs"
    for secret in (who.password, who.secret, s.cookies["tiaki_session"], marker,
                   portal.admin_token_file.read_text().strip()):
        assert secret not in log


def test_tiaki_staff_adds_lists_and_disables_through_the_admin_api(portal):
    from click.testing import CliRunner

    from tiaki.cli.app import cli

    base = ["staff", "--portal", portal.url, "--admin-token-file", str(portal.admin_token_file)]
    staff_id = f"cli-{uuid.uuid4().hex[:6]}"
    added = CliRunner().invoke(cli, base + ["add", staff_id, "--org", "provider:ccss",
                                            "--role", "privacy-officer", "--name", "Rangi"])
    assert added.exit_code == 0, added.output
    assert "password:" in added.output and "otpauth://totp/tiaki:" in added.output
    listed = CliRunner().invoke(cli, base + ["list", "--org", "ccss"])
    assert staff_id in listed.output and "active" in listed.output.split(staff_id)[1].splitlines()[0]
    refused = CliRunner().invoke(cli, base + ["add", "x", "--org", "provider:ccss", "--role", "analyst"])
    assert refused.exit_code != 0 and "roles:" in refused.output
    assert CliRunner().invoke(cli, base + ["disable", staff_id]).exit_code == 0
    listed = CliRunner().invoke(cli, base + ["list"])
    assert "disabled" in listed.output.split(staff_id)[1].splitlines()[0]
