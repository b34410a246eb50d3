"""Pseudonym-key rotation end to end: the Agency rotates a programme's keys
with `tiaki keys rotate`; the next quarter's records reach the unit under new
pseudonyms; a family's access request still finds the person's records from
before and after the rotation, and only theirs."""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import subprocess
import sys
import uuid

import grpc
import pytest

from tests.e2e.journey import quarter, submit
from tests.stack import ROOT
from tiaki.intake.v1 import keys_pb2
from tiaki.intake.v1.keys_pb2_grpc import KeysServiceStub
from tiaki.requests.v1 import requests_pb2 as rpb


def shows(html: str, iso: str) -> bool:
    """Whether the document shows this date, as ISO or as "9 July 2026" (not "19 July")."""
    day = dt.date.fromisoformat(iso)
    return iso in html or re.search(rf"(?<!\d){day.day} {day:%B %Y}", html) is not None


def tiaki(stack, *args, who="agency-agency") -> subprocess.CompletedProcess:
    env = dict(os.environ, TIAKI_INTAKE=stack.address("intake"),
               TIAKI_TOKEN_FILE=str(stack.tmp / "tokens" / who))
    return subprocess.run([sys.executable, "-c", "from tiaki.cli.app import main; main()", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def evaluation_pseudonyms(stack, submission_id) -> set[str]:
    from tiaki.unit.store import UnitStore

    store = UnitStore(stack.db_uri("unit_evaluation"))
    try:
        return {r["pseudonym"] for d in stack.unit_deliveries("evaluation",
                                                              submission_id=submission_id)
                for r in store.content(d["_id"])}
    finally:
        store.client.close()


def test_rotated_keys_new_pseudonyms_and_old_records_still_found(stack, example_plan):
    plan = copy.deepcopy(example_plan)
    programme = plan["programme_id"] = f"rotation-{uuid.uuid4().hex[:8]}"
    version = stack.create_plan(plan)
    tag = uuid.uuid4().hex[:6]
    q3 = [dict(r, client_ref=f"{tag}-{r['client_ref']}")
          for r in quarter(10, seed=51, clients=10, quarter="2026Q3")]
    q4 = [dict(r, client_ref=f"{tag}-{r['client_ref']}")
          for r in quarter(10, seed=52, clients=10, quarter="2026Q4")]
    sub3, _ = submit(stack, programme, version, q3, period="2026Q3")
    stack.wait_for(lambda: stack.unit_deliveries("evaluation", submission_id=sub3),
                   what="Q3 at the evaluation unit")

    # Only the Agency rotates keys.
    with pytest.raises(grpc.RpcError) as caught:
        KeysServiceStub(stack.channel("intake")).RotatePseudonymKeys(
            keys_pb2.RotatePseudonymKeysRequest(programme_id=programme),
            metadata=stack.metadata("provider", "ccss"))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    refused = tiaki(stack, "keys", "rotate", programme, who="provider-ccss")
    assert refused.returncode == 1 and "PERMISSION_DENIED" in refused.stderr
    rotated = tiaki(stack, "keys", "rotate", programme)
    assert rotated.returncode == 0, rotated.stderr
    assert "generation 2" in rotated.stdout
    missing = tiaki(stack, "keys", "rotate", "no-such-programme")
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr

    sub4, _ = submit(stack, programme, version, q4, period="2026Q4")
    stack.wait_for(lambda: stack.unit_deliveries("evaluation", submission_id=sub4),
                   what="Q4 at the evaluation unit")
    before, after = evaluation_pseudonyms(stack, sub3), evaluation_pseudonyms(stack, sub4)
    assert len(before) == len(after) == 10
    assert not before & after, "the same families kept their pseudonyms across the rotation"

    ccss = stack.metadata("provider", "ccss")
    client = q3[4]["client_ref"]
    assert q4[4]["client_ref"] == client  # the same family both quarters
    opened = stack.requests().OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=programme, client_ref=client, requester="the client",
        authorisation="signed form", received="2026-03-02"), metadata=ccss).request
    stack.wait_for(lambda: stack.requests().GetRequest(rpb.GetRequestRequest(
        request_id=opened.request_id), metadata=ccss).request.state == rpb.REQUEST_STATE_COMPLETE,
        what="the answer")
    html = stack.requests().GetAnswer(rpb.GetAnswerRequest(request_id=opened.request_id),
                                      metadata=ccss).html
    assert shows(html, q3[4]["referral_date"]) and shows(html, q4[4]["referral_date"])
    mine = {q3[4]["referral_date"], q4[4]["referral_date"]}
    others = {r["referral_date"] for r in q3 + q4 if r["client_ref"] != client} - mine
    assert not [d for d in others if dt.date.fromisoformat(d).isoformat() in html]

    # The next rotation finds every generation still: generation 3.
    assert "generation 3" in tiaki(stack, "keys", "rotate", programme).stdout
