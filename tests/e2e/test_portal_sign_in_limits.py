"""Signing in is limited in the portal's store, not in a process: two instances of the
portal on one store count the same failed sign-ins and the same sign-in posts from an
address, and a portal started again keeps a locked account locked and an address
still limited. Each portal is the real Starlette app (make_app) on the real store;
no service is called (signing in needs none). Plain pytest, not the service tests'
eventlet runner: the portal is asyncio."""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import re
import time
import uuid
from types import SimpleNamespace

import pymongo
import pytest
import requests
from starlette.testclient import TestClient

from services.portal import accounts, auth, storage
from services.portal.app import Settings, make_app
from services.portal.storage import PortalStore
from tests.browser.conftest import Portal
from tests.stack import STORE_URI
from tiaki.core.clock import utc_now

pytestmark = pytest.mark.infra
PASSWORD = "a long enough password"


@pytest.fixture
def store_uri():
    """A database of this test's own on the test store, dropped afterwards."""
    name = f"portal_limits_{uuid.uuid4().hex[:12]}"
    yield f"{STORE_URI}/{name}"
    with pymongo.MongoClient(STORE_URI) as client:
        client.drop_database(name)


@pytest.fixture
def settings(store_uri, tmp_path):
    return Settings(mongo_uri=store_uri, admin_token_file=str(tmp_path / "admin-token"),
                    tokens_dir=str(tmp_path / "tokens"), units_config="", notify_every=0,
                    metrics_port=0, sign_in_rate=8)


@pytest.fixture(autouse=True)
def one_minute(monkeypatch):
    """Every sign-in at the same instant, so the test never straddles two of the rate
    limit's one-minute windows."""
    now = utc_now()
    monkeypatch.setattr(auth, "utc_now", lambda: now)


@contextlib.contextmanager
def portal(settings):
    """A portal instance, started and stopped as uvicorn would (its lifespan)."""
    with TestClient(make_app(settings)) as client:
        yield client


def person(client, staff_id: str) -> str:
    client.app.state.portal.store.add_staff(
        accounts.new_staff(staff_id, "Test Person", "provider", "ccss", ["board-member"], PASSWORD))
    return staff_id


def sign_in(client, staff_id: str, password: str):
    """The sign-in form, then the post, as a browser of its own (its own cookies)
    sends them to this portal instance."""
    browser = TestClient(client.app)  # no `with`: the instance's lifespan is `portal`'s
    form = browser.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return browser.post("/sign-in", data={"csrf": csrf, "staff_id": staff_id, "password": password},
                        follow_redirects=False)


def test_failures_sent_to_two_instances_lock_the_account_for_both_and_after_a_restart(settings):
    with portal(settings) as a, portal(settings) as b:
        who = person(a, "t-two-instances")
        statuses = [sign_in(client, who, "wrong password").status_code
                    for client in (a, b, a, b)]
        assert statuses == [400] * 4, "four failures: not yet locked"
        last = sign_in(b, who, "wrong password")
        assert last.status_code == 423 and "now locked for 15 minutes" in last.text, \
            "the fifth failure locks the account, though each instance saw fewer than five"
        for client in (a, b):
            reply = sign_in(client, who, PASSWORD)
            assert reply.status_code == 423 and "This account is locked" in reply.text
    with portal(settings) as again:
        reply = sign_in(again, who, PASSWORD)
        assert reply.status_code == 423 and "This account is locked" in reply.text, \
            "a portal started again keeps the account locked"


def test_healthz_answers_without_a_session_and_says_when_the_store_is_gone(settings):
    with portal(settings) as a:
        reply = a.get("/healthz")
        assert reply.status_code == 200 and "set-cookie" not in reply.headers
        a.app.state.portal.store_answers.close()
        assert a.get("/healthz").status_code == 503


def test_failures_sent_at_once_to_two_instances_are_each_counted(settings):
    with portal(settings) as a, portal(settings) as b:
        who = person(a, "t-at-once")
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            replies = list(pool.map(lambda c: sign_in(c, who, "wrong password").status_code,
                                    [a, b, a, b, a]))
        assert sorted(replies) == [400] * 4 + [423], "five failures at once lock it once"
        assert sign_in(b, who, PASSWORD).status_code == 423


def test_the_sign_in_rate_of_an_address_holds_across_instances_and_a_restart(settings):
    with portal(settings) as a, portal(settings) as b:
        who = person(a, "t-rate")
        statuses = [sign_in(client, "t-nobody", "wrong password").status_code
                    for client in (a, b) * 4]
        assert statuses == [400] * 8, "eight posts a minute are allowed (PORTAL_SIGN_IN_RATE=8)"
        reply = sign_in(a, who, PASSWORD)
        assert reply.status_code == 429 and "Too many sign-in attempts from here" in reply.text
    with portal(settings) as again:
        assert sign_in(again, who, PASSWORD).status_code == 429, \
            "a portal started again still counts this minute's posts"


def test_behind_a_trusted_proxy_each_browser_address_has_its_own_limit(store_uri, tmp_path):
    """The portal process as uvicorn serves it, behind a proxy on 127.0.0.1 that it trusts
    (PORTAL_TRUSTED_PROXIES): the address the proxy names is limited, not the proxy's."""
    no_services = SimpleNamespace(db_uri=lambda db: store_uri, tmp=tmp_path, unit_config=None,
                                  address=lambda service: "127.0.0.1:9")
    portal = Portal(no_services, tmp_path, PORTAL_SIGN_IN_RATE="2",
                    PORTAL_TRUSTED_PROXIES="127.0.0.1")
    try:
        if time.time() % 60 > 50:  # not across two of the limit's one-minute windows
            time.sleep(61 - time.time() % 60)

        def post(address: str) -> int:
            s = requests.Session()
            form = s.get(f"{portal.url}/sign-in", timeout=30)
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
            return s.post(f"{portal.url}/sign-in", timeout=30, headers={"x-forwarded-for": address},
                          data={"csrf": csrf, "staff_id": "t-nobody", "password": "wrong"}).status_code

        assert [post("203.0.113.7") for _ in range(3)] == [400, 400, 429]
        assert post("203.0.113.8") == 400, "another browser behind the same proxy is not limited"
    finally:
        portal.stop()


def test_sessions_that_expired_unused_are_gone_once_another_starts(settings):
    with portal(settings):
        store = PortalStore()
        now = utc_now()
        old = store.start_session(now - dt.timedelta(days=2), staff="gone", stage="signed-in")
        live = store.start_session(now, staff="here", stage="signed-in")
        assert store.session(live, now) is not None
        assert store.sessions.get(storage._key(old)) is None  # swept, not only refused
