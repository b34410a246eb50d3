"""Page load times of the portal under load: `python -m tests.bench.portal_pages`.

Starts the real services (tests/stack.py) and the portal on them, loads the
example plan and a quarter, signs in USERS provider staff (password and code),
then each of them, in a thread of its own, loads every provider page ROUNDS
times as fast as it can. Prints p50/p95/max per page and overall (server time
seen by the client, whole response read). Bounded: USERS x ROUNDS x pages
requests, loopback only."""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
import yaml

from tests.browser.conftest import Portal, portal_on_stack
from tests.e2e.journey import quarter, submit
from tests.stack import ROOT

USERS = int(os.environ.get("PORTAL_BENCH_USERS", "8"))  # provider staff
AGENCY_USERS = int(os.environ.get("PORTAL_BENCH_AGENCY_USERS", "4"))  # Agency analysts, at once
ROUNDS = int(os.environ.get("PORTAL_BENCH_ROUNDS", "20"))
PAGES = ["/", "/provider?period=2026Q3", "/provider/requests", "/provider/outcomes",
         "/provider/upload", "/provider/agreement", "/account"]
AGENCY_PAGES = ["/agency/outcomes", "/agency/drafts?programme=best-foot-forward",
                "/agency/measures?programme=best-foot-forward"]


def sign_in(portal: Portal, who) -> requests.Session:
    s = requests.Session()
    csrf = re.search(r'name="csrf" value="([^"]+)"', s.get(f"{portal.url}/sign-in").text).group(1)
    reply = s.post(f"{portal.url}/sign-in", data={"csrf": csrf, "staff_id": who.id,
                                                   "password": who.password})
    csrf = re.search(r'name="csrf" value="([^"]+)"', reply.text).group(1)
    reply = s.post(f"{portal.url}/sign-in/code", data={"csrf": csrf, "code": who.code()})
    assert reply.url.endswith("/"), reply.text
    return s


def p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main():
    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    with portal_on_stack(tmp) as (stack, portal):
        version = stack.create_plan(yaml.safe_load(
            (ROOT / "programmes" / "best-foot-forward.yaml").read_text()))
        submit(stack, "best-foot-forward", version, quarter(600, seed=7, quarter="2026Q3"),
               period="2026Q3")
        sessions = ([(sign_in(portal, portal.person("privacy-officer")), PAGES)
                     for _ in range(USERS)]
                    + [(sign_in(portal, portal.person("analyst", "agency", "agency")), AGENCY_PAGES)
                       for _ in range(AGENCY_USERS)])
        times: dict[str, list[float]] = {page: [] for page in PAGES + AGENCY_PAGES}
        lock = threading.Lock()

        def user(s: requests.Session, pages: list[str]):
            for _ in range(ROUNDS):
                for page in pages:
                    started = time.perf_counter()
                    reply = s.get(f"{portal.url}{page}", timeout=60)
                    took = time.perf_counter() - started
                    assert reply.status_code == 200, (page, reply.status_code)
                    with lock:
                        times[page].append(took)

        threads = [threading.Thread(target=user, args=pair) for pair in sessions]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        every = [t for page in times for t in times[page]]
        print(f"\nportal page loads, {USERS} provider staff and {AGENCY_USERS} Agency analysts "
              f"signed in at once, {ROUNDS} rounds of their {len(PAGES)} and {len(AGENCY_PAGES)} "
              f"pages ({len(every)} requests in {wall:.1f} s, "
              f"{len(every) / wall:.0f}/s); on a {os.cpu_count()}-core machine shared with "
              "the services (and whatever else runs)")
        print(f"{'page':28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        for page in [*times, "all"]:
            values = every if page == "all" else times[page]
            print(f"{page:28} {statistics.median(values) * 1000:8.0f} {p(values, 0.95) * 1000:8.0f} "
                  f"{max(values) * 1000:8.0f}")


if __name__ == "__main__":
    main()
