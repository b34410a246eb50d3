"""The portal in a real browser, against the real services: the stack of
tests/e2e (tests/stack.py) and the portal as its own process on it, driven by
Playwright with Debian's Chromium, axe-core (tools/package.json) in each page.

Fixtures: `portal` (the running portal: its URL, `person(...)` to add a staff
account through the admin API `tiaki staff` uses, `log()`), `stack`, `page` (a
fresh browser context per test: no cookies shared), and the helpers below:
`sign_in(page, who)`, `no_serious_axe(page)`, `fits_375(page)`."""

from __future__ import annotations

import contextlib
import email
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

from tests.chromium import CHROMIUM, MEASURE
from tests.e2e import conftest as e2e
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
    email: str = ""

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


class Mail:
    """A local SMTP server (aiosmtpd), as `make run` starts one: what arrived, in order."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for m in self.messages if address in m["To"]]

    def stop(self):
        self.controller.stop()


class Portal:
    def __init__(self, stack: Stack, tmp: Path, mail: Mail | None = None, **settings: str):
        self.stack, self.tmp = stack, tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_port = free_port()
        self.admin_token_file = tmp / "portal-admin-token"
        self.log_file = tmp / "portal.log"
        env = dict(os.environ, PYTHONPATH=str(ROOT), PORTAL_PORT=str(self.port),
                   PORTAL_METRICS_PORT=str(self.metrics_port),
                   PORTAL_MONGO_URI=stack.db_uri("portal"),
                   PORTAL_TOKENS_DIR=str(stack.tmp / "tokens"),
                   PORTAL_ADMIN_TOKEN_FILE=str(self.admin_token_file), LOG_FILE=str(self.log_file),
                   PORTAL_INTAKE=stack.address("intake"),
                   PORTAL_PURPOSE_ROUTER=stack.address("purpose_router"),
                   PORTAL_REQUESTS=stack.address("requests"),
                   PORTAL_INSIGHTS=stack.address("insights"),
                   PORTAL_NOTIFY_EVERY="1" if mail else "0",
                   PORTAL_SIGN_IN_RATE="1000",  # every test signs in from 127.0.0.1
                   PORTAL_SMTP=f"127.0.0.1:{mail.port}" if mail else "",
                   # the units' config the stack's units read ("": every unit answers at once)
                   PORTAL_UNITS_CONFIG=str(stack.unit_config or ""))
        env.update(settings)  # a test's own PORTAL_* settings
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
               org: str = "ccss", email: str = "") -> Person:
        """A new staff account of its own (so no test reuses another's code)."""
        staff_id = f"t-{role[:8]}-{uuid.uuid4().hex[:8]}"
        password = f"pw-{uuid.uuid4().hex}"
        reply = self.admin("POST", "/admin/api/staff", json={
            "id": staff_id, "name": f"Test {role.title()}", "org_kind": org_kind, "org": org,
            "roles": [role], "password": password, "email": email})
        assert reply.status_code == 201, reply.text
        return Person(staff_id, password, reply.json()["totp_secret"] or "", org_kind, org, role,
                      email)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


stack = e2e.stack  # the session's services, as tests/e2e starts them


@pytest.fixture(scope="session")
def mail():
    m = Mail()
    try:
        yield m
    finally:
        m.stop()


@pytest.fixture(scope="session")
def portal(stack, mail, tmp_path_factory):
    p = Portal(stack, tmp_path_factory.mktemp("portal"), mail)
    try:
        yield p
    finally:
        p.stop()


@contextlib.contextmanager
def portal_on_stack(tmp: Path, unit_config: Path | None = None):
    """A stack and the portal on it, outside pytest (benchmark, screenshots), both
    stopped and removed at the end; `unit_config`: the units' config (start_stack)."""
    s = start_stack(tmp / "stack", unit_config=unit_config)
    p = None
    try:
        (tmp / "portal").mkdir()
        p = Portal(s, tmp / "portal")
        yield s, p
    finally:
        if p:
            p.stop()
        drop(s)


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


def fits_375(page) -> list[str]:
    """Elements of the page past the edge of a 375 px screen, or clipped
    (tests/chromium.py's measure, on the page as served at a 375 px viewport)."""
    size = page.viewport_size
    page.set_viewport_size({"width": 375, "height": 800})
    try:
        measured = page.evaluate(f"({MEASURE})(document)")
    finally:
        page.set_viewport_size(size)
    assert measured["width"] == 375, measured
    return measured["out"]
