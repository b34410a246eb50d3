"""The portal in a real browser, against the real services: the stack of
tests/e2e (tests/stack.py) and the portal as its own process on it, driven by
Playwright with Debian's Chromium, axe-core (tools/package.json) in each page.

Fixtures: `portal` (the running portal: its URL, `person(...)` to add a staff
account through the admin API `tiaki staff` uses, `log()`), `stack`, `page` (a
fresh browser context per test: no cookies shared), and the helpers below:
`sign_in(page, portal, who)`, `no_serious_axe(page)`, `fits_375(page, tmp_path)`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
import requests

from tests.chromium import CHROMIUM, overflow
from tests.stack import ROOT, Stack, drop, free_port, start_stack

AXE = Path(os.environ.get("TIAKI_AXE_JS", ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"))


@dataclass
class Person:
    id: str
    password: str
    secret: str  # TOTP; "" when the role needs none
    org_kind: str
    org: str
    role: str

    def code(self) -> str:
        """The current code, waiting for the next one if this one was used (a code works once)."""
        totp = pyotp.TOTP(self.secret)
        step = totp.timecode(_now())
        if getattr(self, "_used", None) == step:
            time.sleep(30 - time.time() % 30 + 0.5)
            step = totp.timecode(_now())
        self._used = step
        return totp.now()


def _now():
    import datetime as dt
    return dt.datetime.now(dt.timezone.utc)


class Portal:
    def __init__(self, stack: Stack, tmp: Path):
        self.stack, self.tmp = stack, tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token_file = tmp / "portal-admin-token"
        self.log_file = tmp / "portal.log"
        env = dict(os.environ, PYTHONPATH=str(ROOT), PORTAL_PORT=str(self.port),
                   PORTAL_METRICS_PORT=str(free_port()),
                   PORTAL_MONGO_URI=stack.db_uri("portal"),
                   PORTAL_TOKENS_DIR=str(stack.tmp / "tokens"),
                   PORTAL_ADMIN_TOKEN_FILE=str(self.admin_token_file), LOG_FILE=str(self.log_file),
                   PORTAL_INTAKE=stack.address("intake"),
                   PORTAL_PURPOSE_ROUTER=stack.address("purpose_router"),
                   PORTAL_REQUESTS=stack.address("requests"),
                   PORTAL_INSIGHTS=stack.address("insights"),
                   # the units' config the stack's units read ("": every unit answers at once)
                   PORTAL_UNITS_CONFIG=str(stack.unit_config or ""))
        out = open(tmp / "portal.out", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "services.portal"], cwd=ROOT, env=env,
                                     stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert self.proc.poll() is None, (tmp / "portal.out").read_text()
                time.sleep(0.2)
        else:
            raise AssertionError("the portal did not start")

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        token = self.admin_token_file.read_text().strip()
        return requests.request(method, f"{self.url}{path}", timeout=30,
                                headers={"authorization": f"Bearer {token}"}, **kwargs)

    def person(self, role: str = "privacy-officer", org_kind: str = "provider",
               org: str = "ccss") -> Person:
        """A new staff account of its own (so no test reuses another's code)."""
        staff_id = f"t-{role[:8]}-{uuid.uuid4().hex[:8]}"
        password = f"pw-{uuid.uuid4().hex}"
        reply = self.admin("POST", "/admin/api/staff", json={
            "id": staff_id, "name": f"Test {role.title()}", "org_kind": org_kind, "org": org,
            "roles": [role], "password": password})
        assert reply.status_code == 201, reply.text
        return Person(staff_id, password, reply.json()["totp_secret"] or "", org_kind, org, role)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    s = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        yield s
    finally:
        drop(s)


@pytest.fixture(scope="session")
def portal(stack, tmp_path_factory):
    p = Portal(stack, tmp_path_factory.mktemp("portal"))
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def page(browser, portal):
    context = browser.new_context(base_url=portal.url)
    p = context.new_page()
    p.set_default_timeout(20000)
    yield p
    context.close()


def sign_in(page, who: Person) -> None:
    """Signs `who` in as a person would: the form, then the code when the role needs it."""
    page.goto("/sign-in")
    page.get_by_label("Staff id").fill(who.id)
    page.get_by_label("Password").fill(who.password)
    page.get_by_role("button", name="Sign in").click()
    if who.secret:
        page.get_by_label("Code from your authenticator app").fill(who.code())
        page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/")


def no_serious_axe(page) -> list[dict]:
    """axe-core's serious and critical violations of WCAG 2.1 A and AA on the page
    (evaluated through the browser's tools, so the page's CSP stays as served)."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing ({AXE}): run make install")
    page.evaluate(AXE.read_text())
    result = page.evaluate("""() => axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})""")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def fits_375(page, workdir: Path) -> list[str]:
    """Elements of the page past the edge of a 375 px screen (tests/chromium.py),
    measured on the page as served with its style sheet in it."""
    css = (ROOT / "services" / "portal" / "static" / "portal.css").read_text()
    html = page.content().replace('<link rel="stylesheet" href="/static/portal.css">',
                                  f"<style>{css}</style>")
    html = html.replace('<script src="/static/portal.js" defer=""></script>', "")
    measured = overflow(html, workdir)
    assert measured["width"] == 375, measured
    return measured["out"]
