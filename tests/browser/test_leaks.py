"""The leak test over the portal: what a provider's export holds beyond its
agreement (a case worker's notes) reaches no page, log or store, and what it
sends (a client's reference) reaches no other organisation's pages."""

from __future__ import annotations

import json
import uuid

import pymongo
import pytest
import yaml

from tests.browser.test_security import csrf_of, signed_in
from tests.e2e.journey import csv_text, quarter
from tests.stack import ROOT

pytestmark = pytest.mark.infra
PROGRAMME = "best-foot-forward"
PROVIDER_PAGES = ("/", "/provider", "/provider/upload", "/provider/requests", "/provider/outcomes",
                  "/provider/board-report", "/provider/letter", "/provider/agreement")
AGENCY_PAGES = ("/", "/agency/drafts", "/agency/agreements", "/agency/measures")


def stored_text(stack, db: str) -> str:
    """Every document of one of the stack's databases, as text."""
    client = pymongo.MongoClient(stack.store_of(db))
    try:
        database = client[f"{stack.name}_{db}"]
        return "\n".join(json.dumps(doc, default=str) for name in database.list_collection_names()
                         for doc in database[name].find())
    finally:
        client.close()


def test_notes_beyond_the_agreement_and_clients_references_stay_where_they_belong(portal, stack):
    programme = f"leaks-{uuid.uuid4().hex[:8]}"  # a programme of its own: no period taken
    plan = yaml.safe_load((ROOT / "programmes" / f"{PROGRAMME}.yaml").read_text())
    stack.create_plan(dict(plan, programme_id=programme))
    notes, client = f"NOTES{uuid.uuid4().hex[:8]}", f"CLIENT{uuid.uuid4().hex[:8]}"
    rows = quarter(6, seed=71, clients=6, quarter="2026Q1")
    for n, r in enumerate(rows):
        r["client_ref"] = f"{client}-{n}"
        r["case_notes"] = f"{notes} disclosed a family matter"
    rows[2]["goals_met"] = "nearly"  # one rejected row: its page and CSV are checked too

    uploader = signed_in(portal, portal.person("reporting-admin", org="other-ngo"))
    form = uploader.get(f"{portal.url}/provider/upload", timeout=30)
    reply = uploader.post(f"{portal.url}/provider/upload", timeout=120,
                          data={"csrf": csrf_of(form.text), "programme": programme,
                                "period": "2026Q1"},
                          files={"records": ("q.csv", csv_text(rows), "text/csv")})
    assert "/provider/uploads/" in reply.url and "1 rejected" in reply.text, reply.text
    assert "case_notes" in reply.text  # named as ignored, its values never read out
    upload = reply.url.removeprefix(portal.url)

    seen = {}
    pages = [f"{p}?programme={programme}&period=2026Q1" for p in PROVIDER_PAGES]
    for path in (*pages, upload, f"{upload}/rejections.csv"):
        got = uploader.get(f"{portal.url}{path}", timeout=60)
        assert got.status_code in ((200,) if path.startswith(upload) else (200, 403)), path
        seen[("other-ngo", path)] = got.text
    for who in (portal.person("privacy-officer", org="ccss"),
                portal.person("analyst", org_kind="agency", org="agency")):
        session = signed_in(portal, who)
        for path in (*(pages if who.org_kind == "provider" else AGENCY_PAGES), upload):
            got = session.get(f"{portal.url}{path}", timeout=60)
            seen[(who.org, path)] = got.text
            if path == upload:
                assert got.status_code in (403, 404), (who.org, got.status_code)
    for (org, path), html in seen.items():
        assert notes not in html, (org, path)
        if org != "other-ngo":
            assert client not in html, (org, path)
    portal_store = stored_text(stack, "portal")
    assert portal_store and notes not in portal_store and client not in portal_store
    assert notes not in portal.log() and client not in portal.log()
