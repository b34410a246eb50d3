"""The reporting journey as a provider and two Agency units live it."""

from __future__ import annotations

import grpc
import pytest

from tests.e2e.journey import fresh_period, quarter, submit
from tiaki.router.v1 import ledger_pb2
from tiaki.unit.store import UnitStore

PROGRAMME = "best-foot-forward"


@pytest.fixture(scope="module")
def version(stack, example_plan):
    return stack.create_plan(example_plan)


def records_for(stack, unit, submission_id):
    store = UnitStore(stack.db_uri(f"unit_{unit}"))
    out = []
    for d in store.deliveries.find({"submission_id": submission_id, "kind": "records"}):
        out.extend(store.content(d["_id"]))
    return out


def test_each_unit_receives_exactly_what_its_purpose_allows(stack, version):
    rows = quarter(1200, seed=7, clients=900)
    for i, row in enumerate(rows):   # Southland: four families, all in the parenting strand
        if row["region"] == "Southland":
            row["region"] = "Otago"
        if i % 300 == 299:
            row.update(region="Southland", programme_strand="parenting")
    rows[5]["sessions_attended"] = "lots"          # wrong type
    rows[6]["favourite_food"] = "kumara"            # not declared in the plan
    rows[7]["region"] = "Atlantis"                  # not an allowed value
    rows.append(dict(rows[10]))                     # the same record twice
    submission_id, summary = submit(stack, PROGRAMME, version, rows)

    assert (summary.accepted_count, summary.rejected_count, summary.duplicate_count) == (1197, 3, 1)
    reasons = {(r.record_ref, r.field) for r in summary.rejections}
    assert reasons == {(rows[5]["record_ref"], "sessions_attended"),
                       (rows[6]["record_ref"], "favourite_food"),
                       (rows[7]["record_ref"], "region")}

    evaluation = stack.wait_for(
        lambda: (r := records_for(stack, "evaluation", submission_id)) and len(r) == 1197 and r,
        what="1197 records at the evaluation unit")
    declared = {"pseudonym", "referral_date", "age_band", "ethnicity", "region",
                "programme_strand", "sessions_attended", "wellbeing_start", "wellbeing_end",
                "goals_met"}
    assert all(set(r) <= declared for r in evaluation)
    assert not any("client_ref" in r or "family_name" in r or "favourite_food" in r
                   for r in evaluation)

    aggregate = stack.wait_for(
        lambda: stack.unit_deliveries("service-delivery", submission_id=submission_id),
        what="the aggregate at the service-delivery unit")
    assert len(aggregate) == 1 and aggregate[0]["kind"] == "aggregate"
    assert aggregate[0]["fields"] == ["region", "programme_strand", "sessions_attended"]
    assert stack.unit_deliveries("service-delivery", kind="records",
                                 programme_id=PROGRAMME) == []
    cells = UnitStore(stack.db_uri("unit_service-delivery")).content(aggregate[0]["_id"])
    southland = [c for c in cells if c["dimensions"]["region"] == "Southland"]
    assert southland == [{"dimensions": {"region": "Southland", "programme_strand": "parenting"},
                          "suppressed": True}]
    for cell in cells:
        if cell["suppressed"]:
            assert "count" not in cell and "sums" not in cell
        else:
            assert cell["count"] % 3 == 0 and cell["count"] >= 6


def test_pseudonyms_differ_by_purpose_and_stay_stable_across_quarters(stack, version):
    q3 = quarter(40, seed=3, clients=40)
    q4 = [dict(r, record_ref=r["record_ref"].replace("2026Q3", "2026Q4")) for r in q3]
    sub3, _ = submit(stack, PROGRAMME, version, q3, period=fresh_period())
    sub4, _ = submit(stack, PROGRAMME, version, q4, period=fresh_period())
    first = stack.wait_for(lambda: len(r := records_for(stack, "evaluation", sub3)) == 40 and r)
    second = stack.wait_for(lambda: len(r := records_for(stack, "evaluation", sub4)) == 40 and r)
    assert {r["pseudonym"] for r in first} == {r["pseudonym"] for r in second}
    # The intake key for the aggregate purpose differs: no evaluation pseudonym
    # is a client reference, and none appears outside its purpose's stream.
    assert not {r["pseudonym"] for r in first} & {row["client_ref"] for row in q3}


def test_the_provider_sees_where_its_data_went_and_who_used_it(stack, version):
    rows = quarter(300, seed=11)
    submission_id, _ = submit(stack, PROGRAMME, version, rows)
    ledger = stack.ledger()
    ccss = stack.metadata("provider", "ccss")

    def flows():
        reply = ledger.ListFlows(ledger_pb2.ListFlowsRequest(submission_id=submission_id),
                                 metadata=ccss)
        return list(reply.entries)

    entries = stack.wait_for(
        lambda: (e := flows()) and sum(x.kind == ledger_pb2.ENTRY_KIND_ACKNOWLEDGEMENT
                                       for x in e) == 2 and e,
        what="both deliveries acknowledged")
    deliveries = [e for e in entries if e.kind == ledger_pb2.ENTRY_KIND_DELIVERY]
    assert {(e.purpose_id, e.unit_id) for e in deliveries} == {
        ("evaluation", "evaluation"), ("service_delivery_reporting", "service-delivery")}
    assert sum(e.record_count for e in deliveries if e.unit_id == "evaluation") == 300

    # The evaluation team records who used which fields, and why.
    unit_meta = stack.metadata("unit", "evaluation")
    delivery = next(e for e in deliveries if e.unit_id == "evaluation")
    stack.units().RecordAccess(ledger_pb2.RecordAccessRequest(
        delivery_id=delivery.delivery_id, accessor="analyst A. Tane",
        fields=["goals_met", "wellbeing_end"], reason="Q3 outcomes report"), metadata=unit_meta)
    access = [e for e in flows() if e.kind == ledger_pb2.ENTRY_KIND_ACCESS]
    assert [(a.accessor, list(a.fields)) for a in access] == [
        ("analyst A. Tane", ["goals_met", "wellbeing_end"])]

    verdict = ledger.VerifyLedger(ledger_pb2.VerifyLedgerRequest(), metadata=ccss)
    assert verdict.intact and verdict.entry_count >= len(entries)

    # Another provider sees none of it, and a unit cannot use another unit's delivery.
    other = ledger.ListFlows(ledger_pb2.ListFlowsRequest(submission_id=submission_id),
                             metadata=stack.metadata("provider", "other-ngo"))
    assert list(other.entries) == []
    with pytest.raises(grpc.RpcError) as err:
        stack.units().RecordAccess(ledger_pb2.RecordAccessRequest(
            delivery_id=delivery.delivery_id, accessor="x", fields=["goals_met"], reason="y"),
            metadata=stack.metadata("unit", "service-delivery"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
