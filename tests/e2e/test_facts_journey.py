"""The issue 11 journey, end to end through the real services: plan version 1
(loaded without co-design) collects 2026Q3; the provider then agrees to the
co-designed version 2, declining ethnicity. The 2026Q3 letter and the
family's answer both still say ethnicity was sent in 2026Q3; the 2026Q4
letter says it is not sent; every delivery carries its provenance; and a
client with no records gets an answer saying so.

With TIAKI_EXAMPLES_DIR=docs it writes docs/example-access-answer.html from the run."""

from __future__ import annotations

import copy
import os
import re
import uuid
from pathlib import Path

import pytest

from services.purpose_router.codesign.family_document import visible_text
from tests.e2e.journey import quarter, submit
from tiaki.requests.v1 import requests_pb2 as rpb
from tiaki.router.v1 import agreement_pb2 as apb
from tiaki.router.v1 import codesign_pb2 as cpb
from tiaki.router.v1 import directory_pb2 as dpb
from tiaki.router.v1 import ledger_pb2
from tiaki.router.v1.agreement_pb2_grpc import AgreementServiceStub
from tiaki.router.v1.codesign_pb2_grpc import CodesignServiceStub
from tiaki.router.v1.directory_pb2_grpc import DirectoryServiceStub


@pytest.fixture
def programme(stack, example_plan):
    """A fresh copy of the example programme, version 1 loaded without co-design,
    and the directory's entry for CCSS."""
    plan = copy.deepcopy(example_plan)
    plan["programme_id"] = f"facts-{uuid.uuid4().hex[:8]}"
    assert stack.create_plan(plan) == 1
    DirectoryServiceStub(stack.channel("purpose_router")).SetEntry(dpb.SetEntryRequest(
        entry=dpb.DirectoryEntry(kind=dpb.PARTY_KIND_PROVIDER, id="ccss",
                                 display_name="City Centre Social Services",
                                 postal_address="12 Cuba Street, Te Aro, Wellington 6011",
                                 phone="04 555 0100",
                                 privacy_email="privacy@ccss.example.org.nz")),
        metadata=stack.metadata("agency", "agency"))
    return plan


def test_what_families_are_told_stays_what_happened(stack, programme):
    programme_id = programme["programme_id"]
    ccss = stack.metadata("provider", "ccss")
    agency = stack.metadata("agency", "agency")
    rows = quarter(12, seed=11, clients=12, quarter="2026Q3")
    tag = uuid.uuid4().hex[:6]
    rows = [dict(r, client_ref=f"{tag}-{r['client_ref']}") for r in rows]
    family = next(r for r in rows if r.get("ethnicity"))
    sub, _ = submit(stack, programme_id, 1, rows, period="2026Q3")
    entries = stack.wait_for(lambda: (found := [e for e in stack.ledger().ListFlows(
        ledger_pb2.ListFlowsRequest(submission_id=sub), metadata=ccss).entries
        if e.kind == ledger_pb2.ENTRY_KIND_DELIVERY]) and len(
        {e.unit_id for e in found}) == 2 and found, what="both units' deliveries")
    # Every delivery carries the terms it was collected and routed under.
    assert {(e.unit_id, e.period, e.plan_version, e.agreement_version, e.notice_version,
             e.basis) for e in entries} == {
        ("evaluation", "2026Q3", 1, 0, 1, "aware_through_notice"),
        ("service-delivery", "2026Q3", 1, 0, 1, "not_identifiable")}

    # Version 2 is co-designed; CCSS agrees to it, declining ethnicity.
    codesign = CodesignServiceStub(stack.channel("purpose_router"))
    codesign.OpenDraft(cpb.OpenDraftRequest(programme_id=programme_id), metadata=agency)
    codesign.PublishDraft(cpb.PublishDraftRequest(programme_id=programme_id, version=2),
                          metadata=agency)
    agreements = AgreementServiceStub(stack.channel("purpose_router"))
    made = agreements.DecideItems(apb.DecideItemsRequest(
        programme_id=programme_id, decided_by="Mere Tane", choices=[
            apb.ItemChoice(item_name=i["name"], decision=apb.ITEM_DECISION_DECLINE
                           if i["name"] == "ethnicity" else apb.ITEM_DECISION_ACCEPT)
            for i in programme["items"]]), metadata=ccss).agreement
    assert made.applies_from == "2026Q4"  # never reaching back into 2026Q3

    q3, q4 = (agreements.GetFamilyDocument(apb.GetFamilyDocumentRequest(
        programme_id=programme_id, period=period), metadata=ccss) for period in ("2026Q3",
                                                                                 "2026Q4"))
    q3_text, q4_text = visible_text(q3.html), visible_text(q4.html)
    assert (q3.plan_versions, q3.agreement_version, q3.notice_version) == ([1], 0, 1)
    assert "Self-identified ethnic group (level 1). We check the programme works" in q3_text
    assert "This plan was not co-designed." in q3_text
    # Named from the directory, never by id (its email address is the directory's).
    assert "City Centre Social Services" in q3_text
    assert not re.search(r"\bccss\b(?!\.example)", q3_text)
    assert (q4.plan_versions, q4.agreement_version) == ([2], 1)
    assert "not sent at all: Self-identified ethnic group (level 1)." in q4_text

    # The family's answer still shows ethnicity, held by evaluation, for 2026Q3.
    requests = stack.requests()
    opened = requests.OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=programme_id, client_ref=family["client_ref"], requester="the client",
        authorisation="signed consent form"), metadata=ccss).request
    stack.wait_for(lambda: requests.GetRequest(rpb.GetRequestRequest(
        request_id=opened.request_id), metadata=ccss).request.state ==
        rpb.REQUEST_STATE_COMPLETE, what="the answer")
    answer_html = requests.GetAnswer(rpb.GetAnswerRequest(
        request_id=opened.request_id), metadata=ccss).html
    answer = visible_text(answer_html)
    if os.environ.get("TIAKI_EXAMPLES_DIR"):  # docs/example-access-answer.html, from this run
        Path(os.environ["TIAKI_EXAMPLES_DIR"], "example-access-answer.html").write_text(
            answer_html, encoding="utf-8")
    assert "Self-identified ethnic group (level 1)" in answer
    assert family["ethnicity"] in answer
    assert answer.count("Information for July to September 2026") == 1  # one row per record

    # Nothing about nobody: still a tracked request, answered plainly.
    nobody = requests.OpenAccessRequest(rpb.OpenAccessRequestRequest(
        programme_id=programme_id, client_ref=f"{tag}-nobody", requester="the client",
        authorisation="signed consent form"), metadata=ccss).request
    assert nobody.state == rpb.REQUEST_STATE_COMPLETE and nobody.due
    said = visible_text(requests.GetAnswer(rpb.GetAnswerRequest(
        request_id=nobody.request_id), metadata=ccss).html)
    assert "The Agency holds nothing about you for this programme." in said
    assert "The Agency asked Evaluation and Insights team." in said
