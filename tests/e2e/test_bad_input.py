"""Bad input, end to end: every mistake a provider, a unit or the Agency can make
gets a precise gRPC status or a per-record rejection, and nothing of it is
half-stored (checked afterwards in intake's counts, the ledger and the units'
own stores)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from services.intake.domain import MAX_REF_LENGTH
from tests.e2e.journey import fresh_period
from tiaki.core.errors import shown
from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.plumbing import plan_proto
from tiaki.router.v1 import ledger_pb2, plan_pb2
from tiaki.unit.store import UnitStore

REGIONS = ["North", "South"]
TIMEOUT = 60  # seconds for one call: a call that hangs fails as DEADLINE_EXCEEDED


def new_programme(prefix: str = "bad") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def plan_dict(programme_id: str) -> dict:
    """A small plan: unit-level evaluation and aggregate counts, one item of each type."""
    both = [{"purpose_id": "eval"}, {"purpose_id": "counts"}]
    return {
        "programme_id": programme_id,
        "name": "Bad input",
        "units": [{"unit_id": "evaluation", "name": "Evaluation"},
                  {"unit_id": "service-delivery", "name": "Service delivery"}],
        "purposes": [
            {"purpose_id": "eval", "name": "Evaluation", "unit_id": "evaluation",
             "form": "unit_level"},
            {"purpose_id": "counts", "name": "Counts", "unit_id": "service-delivery",
             "form": "aggregate", "dimensions": ["region"], "measures": ["sessions"],
             "suppress_below": 0},
        ],
        "items": [
            {"name": "referral_date", "type": "date", "required": True,
             "uses": [{"purpose_id": "eval"}]},
            {"name": "region", "type": "enum", "required": True, "allowed_values": REGIONS,
             "uses": both},
            {"name": "sessions", "type": "integer", "required": True, "has_range": True,
             "min": 0, "max": 50, "uses": both},
            {"name": "in_group", "type": "boolean", "uses": [{"purpose_id": "eval"}]},
            {"name": "note", "type": "string", "pattern": "[A-Za-z ]*",
             "uses": [{"purpose_id": "eval"}]},
        ],
    }


@pytest.fixture(scope="module")
def programme(stack):
    programme_id = new_programme()
    return programme_id, stack.create_plan(plan_dict(programme_id))


@pytest.fixture(scope="module")
def stores(stack):
    return {unit: UnitStore(stack.db_uri(f"unit_{unit}"))
            for unit in ("evaluation", "service-delivery")}


# -- helpers -----------------------------------------------------------------------

def meta(stack, kind="provider", ident="ccss"):
    return stack.metadata(kind, ident)


def record(ref, client=None, **fields) -> pb.Record:
    return pb.Record(record_ref=ref, client_ref=client if client is not None else f"c-{ref}",
                     fields={k: str(v) for k, v in fields.items()})


def good(ref, client=None, region="North", sessions=3, **extra) -> pb.Record:
    return record(ref, client, referral_date="2026-07-01", region=region, sessions=sessions,
                  **extra)


def goods(prefix: str, count: int) -> list[pb.Record]:
    return [good(f"{prefix}-{i:04d}", sessions=i % 7) for i in range(count)]


def open_sub(stack, programme, provider="ccss", period: str | None = None) -> str:
    programme_id, version = programme
    reply = stack.intake().OpenSubmission(
        pb.OpenSubmissionRequest(programme_id=programme_id, plan_version=version,
                                 period=period or fresh_period()),
        metadata=meta(stack, "provider", provider), timeout=TIMEOUT)
    return reply.submission.submission_id


def stream(stack, *batches, provider="ccss"):
    """One SubmitRecords stream of (submission_id, [records]) batches."""
    requests = (pb.SubmitRecordsRequest(submission_id=sid, records=recs) for sid, recs in batches)
    return stack.intake().SubmitRecords(requests, metadata=meta(stack, "provider", provider),
                                        timeout=TIMEOUT)


def seal(stack, sid, provider="ccss"):
    return stack.intake().SealSubmission(pb.SealSubmissionRequest(submission_id=sid),
                                         metadata=meta(stack, "provider", provider),
                                         timeout=TIMEOUT)


def get_sub(stack, sid, provider="ccss") -> pb.Submission:
    return stack.intake().GetSubmission(pb.GetSubmissionRequest(submission_id=sid),
                                        metadata=meta(stack, "provider", provider),
                                        timeout=TIMEOUT).submission


def flows(stack, sid, provider="ccss") -> list:
    reply = stack.ledger().ListFlows(ledger_pb2.ListFlowsRequest(submission_id=sid),
                                     metadata=meta(stack, "provider", provider), timeout=TIMEOUT)
    return list(reply.entries)


def unit_records(stores, sid, unit="evaluation") -> list[dict]:
    store = stores[unit]
    out = []
    for d in store.deliveries.find({"submission_id": sid, "kind": "records"}):
        out.extend(store.content(d["_id"]))
    return out


def unit_deliveries(stores, sid) -> list[dict]:
    return [d for store in stores.values() for d in store.deliveries.find({"submission_id": sid})]


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        call(*args, **kwargs)
    return err.value


def settle(stack, stores, sid, expected: int) -> list[dict]:
    """Seals (if still open) and waits until the submission is fully routed:
    the aggregate's ledger entry counts every record of every batch in the
    seal, and by then every unit-level delivery is in the ledger too. Returns
    what the evaluation unit stored, once it holds exactly `expected` records."""
    if get_sub(stack, sid).state == pb.SUBMISSION_STATE_OPEN:
        seal(stack, sid)

    def aggregate_entry():
        return [e for e in flows(stack, sid) if e.kind == ledger_pb2.ENTRY_KIND_DELIVERY
                and e.purpose_id == "counts"]

    agg = stack.wait_for(aggregate_entry, 60, f"the aggregate of {sid} in the ledger")
    assert len(agg) == 1 and agg[0].record_count == expected
    entries = flows(stack, sid)
    unit_level = [e for e in entries
                  if e.kind == ledger_pb2.ENTRY_KIND_DELIVERY and e.purpose_id == "eval"]
    assert sum(e.record_count for e in unit_level) == expected
    stack.wait_for(lambda: stores["service-delivery"].deliveries.find_one(
        {"submission_id": sid, "kind": "aggregate"}), 60, "the aggregate at the unit")
    records = stack.wait_for(
        lambda: len(r := unit_records(stores, sid)) == expected and (r or [None]),
        60, f"{expected} records of {sid} at the evaluation unit")
    if expected == 0:
        records = []
    time.sleep(0.5)  # nothing more trickles in later
    assert len(unit_records(stores, sid)) == expected
    return records


# -- who is calling ----------------------------------------------------------------

def _calls(stack, programme):
    programme_id, version = programme
    return {
        "OpenSubmission": lambda md: stack.intake().OpenSubmission(
            pb.OpenSubmissionRequest(programme_id=programme_id, plan_version=version,
                                     period="2026Q3"), metadata=md),
        "SubmitRecords": lambda md: stack.intake().SubmitRecords(
            iter([pb.SubmitRecordsRequest(submission_id="x", records=[good("r")])]), metadata=md),
        "GetSubmission": lambda md: stack.intake().GetSubmission(
            pb.GetSubmissionRequest(submission_id="x"), metadata=md),
        "CreatePlan": lambda md: stack.plans().CreatePlan(
            plan_pb2.CreatePlanRequest(plan=plan_proto.to_proto(plan_dict(new_programme()))),
            metadata=md),
        "ListFlows": lambda md: stack.ledger().ListFlows(ledger_pb2.ListFlowsRequest(),
                                                          metadata=md),
        "RecordAccess": lambda md: stack.units().RecordAccess(
            ledger_pb2.RecordAccessRequest(delivery_id="x", accessor="a", fields=["region"],
                                           reason="r"), metadata=md),
    }


@pytest.mark.parametrize("call", ["OpenSubmission", "SubmitRecords", "GetSubmission",
                                  "CreatePlan", "ListFlows", "RecordAccess"])
@pytest.mark.parametrize("metadata", [
    (), (("authorization", "Bearer not-a-token"),), (("authorization", ""),),
    (("authorization", "not-a-token"),)], ids=["missing", "wrong", "empty", "no-bearer"])
def test_no_or_unknown_token_is_unauthenticated(stack, programme, call, metadata):
    err = rpc_error(_calls(stack, programme)[call], metadata)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED, err.details()


@pytest.mark.parametrize("call,kind,ident", [
    ("OpenSubmission", "unit", "evaluation"),
    ("SubmitRecords", "unit", "evaluation"),
    ("GetSubmission", "agency", "agency"),
    ("OpenSubmission", "agency", "agency"),
    ("CreatePlan", "provider", "ccss"),
    ("CreatePlan", "unit", "service-delivery"),
    ("ListFlows", "unit", "evaluation"),
    ("RecordAccess", "provider", "ccss"),
])
def test_the_wrong_kind_of_caller_is_denied(stack, programme, call, kind, ident):
    before = stack.mongo[f"{stack.name}_intake"]["submissions"].count_documents({})
    err = rpc_error(_calls(stack, programme)[call], meta(stack, kind, ident))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err.details()
    assert kind in err.details()
    assert stack.mongo[f"{stack.name}_intake"]["submissions"].count_documents({}) == before


def test_a_plan_a_provider_tried_to_create_does_not_exist(stack):
    programme_id = new_programme()
    err = rpc_error(stack.plans().CreatePlan, plan_pb2.CreatePlanRequest(
        plan=plan_proto.to_proto(plan_dict(programme_id))), metadata=meta(stack))
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED
    err = rpc_error(stack.plans().GetPlan, plan_pb2.GetPlanRequest(programme_id=programme_id),
                    metadata=meta(stack))
    assert err.code() == grpc.StatusCode.NOT_FOUND


# -- opening a submission ---------------------------------------------------------------

def test_unknown_programme_or_plan_version_is_not_found(stack, programme):
    programme_id, version = programme
    intake = stack.intake()
    for pid, ver in (("no-such-programme", 1), (new_programme(), 1), (programme_id, version + 1),
                     (programme_id, 99), (programme_id, -1), ("", 1), (new_programme(), 0)):
        err = rpc_error(intake.OpenSubmission, pb.OpenSubmissionRequest(
            programme_id=pid, plan_version=ver, period="2026Q3"), metadata=meta(stack))
        assert err.code() == grpc.StatusCode.NOT_FOUND, (pid, ver, err.details())
        assert str(ver) in err.details()


@pytest.mark.parametrize("period", [
    "2026-Q3", "2026Q5", "2026Q0", "26Q3", "2026q3", "", "Q3", "2026Q3 ", " 2026Q3", "2026Q33",
    "2026Q3\n",
])
def test_a_bad_period_is_invalid(stack, programme, period):
    programme_id, version = programme
    before = stack.mongo[f"{stack.name}_intake"]["submissions"].count_documents(
        {"programme_id": programme_id})
    err = rpc_error(stack.intake().OpenSubmission, pb.OpenSubmissionRequest(
        programme_id=programme_id, plan_version=version, period=period), metadata=meta(stack))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    assert "period" in err.details()
    assert stack.mongo[f"{stack.name}_intake"]["submissions"].count_documents(
        {"programme_id": programme_id}) == before


def test_plan_version_zero_binds_to_the_latest_concrete_version(stack):
    programme_id = new_programme()
    v1 = stack.create_plan(plan_dict(programme_id))

    def open_latest():
        return stack.intake().OpenSubmission(pb.OpenSubmissionRequest(
            programme_id=programme_id, plan_version=0, period="2026Q3"),
            metadata=meta(stack)).submission

    first = open_latest()
    assert first.plan_version == v1
    newer = plan_dict(programme_id)
    newer["items"].append({"name": "added_in_v2", "type": "string",
                           "uses": [{"purpose_id": "eval"}]})
    v2 = stack.create_plan(newer)
    assert v2 == v1 + 1
    second = open_latest()
    assert second.plan_version == v2
    # Each submission is checked against its own version, whatever is latest now.
    old = stream(stack, (first.submission_id, [good("v", added_in_v2="x")]))
    assert [(r.record_ref, r.field) for r in old.rejections] == [("v", "added_in_v2")]
    new = stream(stack, (second.submission_id, [good("v", added_in_v2="x")]))
    assert (new.accepted_count, new.rejected_count) == (1, 0)


# -- where records go --------------------------------------------------------------

def test_unknown_submission_is_not_found(stack, programme):
    for sid in ("no-such-submission", str(uuid.uuid4()), ""):
        err = rpc_error(stream, stack, (sid, [good("r1")]))
        assert err.code() == grpc.StatusCode.NOT_FOUND, err.details()
        for call, request in ((stack.intake().SealSubmission, pb.SealSubmissionRequest),
                              (stack.intake().GetSubmission, pb.GetSubmissionRequest)):
            err = rpc_error(call, request(submission_id=sid), metadata=meta(stack))
            assert err.code() == grpc.StatusCode.NOT_FOUND, err.details()


def test_another_providers_submission_is_not_found_and_nothing_is_stored(stack, programme,
                                                                         stores):
    ccss_sub = open_sub(stack, programme, "ccss")
    other_sub = open_sub(stack, programme, "other-ngo")

    err = rpc_error(stream, stack, (ccss_sub, goods("intruder", 3)), provider="other-ngo")
    assert err.code() == grpc.StatusCode.NOT_FOUND
    # The same answer as a submission that does not exist: nothing is given away.
    nowhere = str(uuid.uuid4())
    missing = rpc_error(stream, stack, (nowhere, goods("x", 1)), provider="other-ngo")
    assert err.details().replace(ccss_sub, "ID") == missing.details().replace(nowhere, "ID")

    # Switching to someone else's submission mid-stream: the first batch is the
    # caller's own and is stored; the second is refused and not stored anywhere.
    err = rpc_error(stream, stack, (other_sub, goods("own", 2)), (ccss_sub, goods("sneak", 2)),
                    provider="other-ngo")
    assert err.code() == grpc.StatusCode.NOT_FOUND

    for call, request in ((stack.intake().GetSubmission, pb.GetSubmissionRequest),
                          (stack.intake().SealSubmission, pb.SealSubmissionRequest)):
        err = rpc_error(call, request(submission_id=ccss_sub), metadata=meta(stack, ident="other-ngo"))
        assert err.code() == grpc.StatusCode.NOT_FOUND
    assert get_sub(stack, ccss_sub).state == pb.SUBMISSION_STATE_OPEN
    assert get_sub(stack, other_sub, "other-ngo").accepted_count == 2

    # Nothing accepted: sealing it abandons it, and nothing of it reaches a unit.
    assert seal(stack, ccss_sub).submission.state == pb.SUBMISSION_STATE_ABANDONED
    assert get_sub(stack, ccss_sub).accepted_count == 0
    assert get_sub(stack, ccss_sub).rejected_count == 0
    assert unit_deliveries(stores, ccss_sub) == []
    # The other provider's ledger holds nothing of ccss's submission, and vice versa.
    assert flows(stack, ccss_sub, "other-ngo") == []


def test_a_sealed_submission_takes_no_more_records_and_seals_once(stack, programme, stores):
    sid = open_sub(stack, programme)
    summary = stream(stack, (sid, goods("sealed", 4)))
    assert summary.accepted_count == 4
    sealed = seal(stack, sid).submission
    assert sealed.state == pb.SUBMISSION_STATE_SEALED and sealed.accepted_count == 4

    err = rpc_error(stream, stack, (sid, goods("late", 3)))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION, err.details()
    assert "sealed" in err.details()
    err = rpc_error(seal, stack, sid)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION, err.details()
    assert "sealed" in err.details()

    after = get_sub(stack, sid)
    assert (after.accepted_count, after.rejected_count) == (4, 0)
    assert after.sealed_at == sealed.sealed_at
    records = settle(stack, stores, sid, 4)
    assert {r["sessions"] for r in records} == {0, 1, 2, 3}
    assert stores["service-delivery"].deliveries.count_documents({"submission_id": sid}) == 1


def test_an_oversized_batch_is_refused_whole(stack, programme, stores):
    sid = open_sub(stack, programme)
    err = rpc_error(stream, stack, (sid, goods("big", 2001)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    assert "2000" in err.details() and "2001" in err.details()
    assert (get_sub(stack, sid).accepted_count, get_sub(stack, sid).rejected_count) == (0, 0)

    # A stream whose second batch is too big: the first is stored, none of the second.
    err = rpc_error(stream, stack, (sid, goods("first", 5)), (sid, goods("second", 2001)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert get_sub(stack, sid).accepted_count == 5

    # Exactly the maximum is fine, and the refused records can be sent again.
    summary = stream(stack, (sid, goods("big", 2000)))
    assert (summary.accepted_count, summary.duplicate_count) == (2000, 0)
    records = settle(stack, stores, sid, 2005)
    assert get_sub(stack, sid).accepted_count == 2005
    assert len({r["pseudonym"] for r in records}) == 2005


# -- what records hold -----------------------------------------------------------

BAD = {  # record_ref -> (record, the field its rejection names)
    "bad-type": (good("bad-type", sessions="lots"), "sessions"),
    "bad-float": (good("bad-float", sessions="2.5"), "sessions"),
    "bad-range-high": (good("bad-range-high", sessions=51), "sessions"),
    "bad-range-low": (good("bad-range-low", sessions=-1), "sessions"),
    "bad-date": (record("bad-date", referral_date="2026-02-30", region="North", sessions=1),
                 "referral_date"),
    "bad-date-format": (record("bad-date-format", referral_date="01/07/2026", region="North",
                               sessions=1), "referral_date"),
    "bad-enum": (good("bad-enum", region="Atlantis"), "region"),
    "bad-enum-case": (good("bad-enum-case", region="north"), "region"),
    "bad-bool": (good("bad-bool", in_group="maybe"), "in_group"),
    "bad-pattern": (good("bad-pattern", note="call 021 555 0199"), "note"),
    "bad-long": (good("bad-long", note="x" * 1001), "note"),
    "missing-required": (record("missing-required", referral_date="2026-07-01", sessions=1),
                         "region"),
    "empty-required": (good("empty-required", region=""), "region"),
    "unknown-field": (good("unknown-field", favourite_food="kumara"), "favourite_food"),
    "reserved-field": (good("reserved-field", pseudonym="fake-pseudonym"), "pseudonym"),
    "client-ref-field": (good("client-ref-field", client_ref="leaked-ref"), "client_ref"),
    "empty-client": (good("empty-client", client=""), "client_ref"),
    "blank-client": (good("blank-client", client="   "), "client_ref"),
    "long-ref": (good("r" * 201, client="c-long-ref"), "record_ref"),
    "": (good("", client="c-empty-ref"), "record_ref"),
}
BAD_VALUES = {"lots", "2.5", 51, -1, "2026-02-30", "01/07/2026", "Atlantis", "north", "maybe",
              "call 021 555 0199", "x" * 1001, "kumara", "fake-pseudonym", "leaked-ref"}


def test_malformed_records_are_rejected_by_field_and_the_good_ones_delivered(stack, programme,
                                                                              stores):
    sid = open_sub(stack, programme)
    good_records = [good(f"ok-{i}", sessions=i, in_group=["yes", "false", "1"][i % 3],
                         note="Fine note") for i in range(12)]
    bad_records = [rec for rec, _ in BAD.values()]
    batch = good_records[:6] + bad_records + good_records[6:]
    summary = stream(stack, (sid, batch))

    assert summary.accepted_count == 12
    assert summary.rejected_count == len(BAD)
    assert summary.duplicate_count == 0
    got = {(r.record_ref, r.field) for r in summary.rejections}
    # An over-long reference is quoted back as its first characters only.
    want = {(shown(rec.record_ref, MAX_REF_LENGTH), field) for rec, field in BAD.values()}
    assert got == want
    assert all(r.reason for r in summary.rejections)
    # Reasons never echo a long value back whole.
    assert all(len(r.reason) < 200 for r in summary.rejections)

    sub = get_sub(stack, sid)
    assert (sub.accepted_count, sub.rejected_count) == (12, len(BAD))
    records = settle(stack, stores, sid, 12)
    allowed = {"pseudonym", "referral_date", "region", "sessions", "in_group", "note"}
    assert all(set(r) <= allowed for r in records)
    assert sorted(r["sessions"] for r in records) == list(range(12))
    assert {r["in_group"] for r in records} == {True, False}
    values = [v for r in records for v in r.values()]
    assert not [v for v in values if v in BAD_VALUES]
    # A rejected record's client appears nowhere: exactly one pseudonym per good client.
    assert len({r["pseudonym"] for r in records}) == 12

    cells = stack.wait_for(lambda: stores["service-delivery"].deliveries.find_one(
        {"submission_id": sid, "kind": "aggregate"}))
    content = stores["service-delivery"].content(cells["_id"])
    assert {c["dimensions"]["region"] for c in content} == {"North"}
    assert sum(c["sums"]["sessions"] for c in content) == sum(range(12))


def test_every_rejected_record_is_counted(stack, programme):
    sid = open_sub(stack, programme)
    summary = stream(stack, (sid, [good("", client="a"), good("", client="b"),
                                   good("same", region="Atlantis"), good("same", sessions=99)]))
    assert summary.accepted_count == 0
    assert len(summary.rejections) == 4
    assert summary.rejected_count == 4
    assert get_sub(stack, sid).rejected_count == 4


def test_a_rejected_record_can_be_corrected_and_sent_again(stack, programme, stores):
    sid = open_sub(stack, programme)
    first = stream(stack, (sid, [good("fix-me", region="Atlantis"), good("fine")]))
    assert (first.accepted_count, first.rejected_count) == (1, 1)
    second = stream(stack, (sid, [good("fix-me", region="South"), good("fine")]))
    assert (second.accepted_count, second.duplicate_count, second.rejected_count) == (1, 1, 0)
    records = settle(stack, stores, sid, 2)
    assert sorted(r["region"] for r in records) == ["North", "South"]


def test_resubmitted_records_are_duplicates_never_stored_twice(stack, programme, stores):
    sid = open_sub(stack, programme)
    batch = goods("dup", 30)
    first = stream(stack, (sid, batch[:20]), (sid, batch[20:]))
    assert (first.accepted_count, first.duplicate_count, first.rejected_count) == (30, 0, 0)

    # The same records again in a second stream, and a repeat inside one batch:
    # duplicates. Ten of them with changed values: rejections that say so, in
    # another batch or stream as inside one batch.
    changed = [good(r.record_ref, sessions=49) for r in batch[:10]]
    again = stream(stack, (sid, changed + batch[10:]), (sid, batch[:5] + batch[:5]))
    assert (again.accepted_count, again.duplicate_count, again.rejected_count) == (0, 30, 10)
    assert {(r.record_ref, r.field, r.code) for r in again.rejections} == {
        (r.record_ref, "record_ref", pb.REJECTION_CODE_CONFLICTING_DUPLICATE)
        for r in batch[:10]}
    assert all("with different values" in r.reason for r in again.rejections)
    inside = stream(stack, (sid, [good("dup-new"), good("dup-new", sessions=49)]))
    assert (inside.accepted_count, inside.duplicate_count, inside.rejected_count) == (1, 0, 1)
    assert "with different values" in inside.rejections[0].reason

    sub = get_sub(stack, sid)
    assert (sub.accepted_count, sub.rejected_count) == (31, 11)
    records = settle(stack, stores, sid, 31)
    assert 49 not in {r["sessions"] for r in records}
    assert len({r["pseudonym"] for r in records}) == 31


def test_concurrent_streams_of_the_same_records_store_each_once(stack, programme, stores):
    sid = open_sub(stack, programme)
    batch = goods("race", 400)
    with ThreadPoolExecutor(4) as pool:
        summaries = list(pool.map(lambda _: stream(stack, (sid, batch[:200]), (sid, batch[200:])),
                                  range(4)))
    assert sum(s.accepted_count for s in summaries) == 400
    assert sum(s.duplicate_count for s in summaries) == 3 * 400
    assert get_sub(stack, sid).accepted_count == 400
    records = settle(stack, stores, sid, 400)
    assert len({r["pseudonym"] for r in records}) == 400


def test_a_bad_identity_rejects_the_record_when_a_linkage_key_is_asked_for(stack, stores):
    programme_id = new_programme()
    plan = plan_dict(programme_id)
    plan["purposes"][0]["include_slk581"] = True
    version = stack.create_plan(plan)
    sid = open_sub(stack, (programme_id, version))

    def person(ref, **identity):
        rec = good(ref, note=ref.replace("-", " "))
        rec.identity.CopyFrom(pb.ClientIdentity(**{
            "family_name": "Te Rangi", "given_name": "Aroha", "date_of_birth": "1990-12-31",
            "sex": "female", **identity}))
        return rec

    summary = stream(stack, (sid, [
        person("id-ok"), person("id-bad-dob", date_of_birth="31/12/1990"),
        person("id-bad-sex", sex="unknown"), good("id-none", note="id none")]))
    assert (summary.accepted_count, summary.rejected_count) == (2, 2)
    assert {(r.record_ref, r.field) for r in summary.rejections} == {
        ("id-bad-dob", "identity"), ("id-bad-sex", "identity")}
    records = settle(stack, stores, sid, 2)
    by_note = {r["note"]: r for r in records}
    assert by_note["id ok"]["slk581"] == "ERNRO311219902"
    assert "slk581" not in by_note["id none"]
    # The identity itself never leaves intake.
    assert not {"family_name", "given_name", "date_of_birth", "sex"} & {k for r in records for k in r}
    assert not [v for r in records for v in r.values() if v in ("Te Rangi", "Aroha", "1990-12-31")]


# -- plans --------------------------------------------------------------------------

def _broken(mutate) -> tuple[str, dict]:
    programme_id = new_programme()
    plan = plan_dict(programme_id)
    mutate(plan)
    return programme_id, plan


@pytest.mark.parametrize("mutate,problem", [
    (lambda p: p["purposes"][0].update(unit_id="housing"), "'housing' is not one of the plan's units"),
    (lambda p: p["items"][0]["uses"].append({"purpose_id": "marketing"}),
     "purpose 'marketing' is not one of the plan's purposes"),
    (lambda p: p["purposes"][1].update(dimensions=["sessions"]),
     "dimension 'sessions' must be an enum or boolean item"),
    (lambda p: p["purposes"][1].update(dimensions=["referral_date"]),
     "dimension 'referral_date' is not an item declared for it"),
    (lambda p: p["purposes"][1].update(measures=["region"]), "measure 'region' must be an integer"),
    (lambda p: p["items"].append({"name": "client_ref", "type": "string",
                                  "uses": [{"purpose_id": "eval"}]}), "not reserved"),
    (lambda p: p["items"].append({"name": "orphan", "type": "string", "uses": []}),
     "declares no purpose"),
    (lambda p: p["purposes"][0].update(form="unspecified"), "form 'unspecified' must be one of"),
    (lambda p: p["purposes"][1].update(include_slk581=True), "cannot receive a linkage key"),
    (lambda p: p.update(programme_id="Bad Programme!"), "programme_id"),
])
def test_an_invalid_plan_is_refused_with_the_problem_in_details(stack, mutate, problem):
    programme_id, plan = _broken(mutate)
    err = rpc_error(stack.plans().CreatePlan,
                    plan_pb2.CreatePlanRequest(plan=plan_proto.to_proto(plan)),
                    metadata=meta(stack, "agency", "agency"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, err.details()
    assert problem in err.details()
    err = rpc_error(stack.plans().GetPlan,
                    plan_pb2.GetPlanRequest(programme_id=plan["programme_id"]),
                    metadata=meta(stack, "agency", "agency"))
    assert err.code() == grpc.StatusCode.NOT_FOUND


def test_a_range_given_as_min_and_max_is_enforced(stack):
    programme_id = new_programme()
    plan = plan_dict(programme_id)
    del plan["items"][2]["has_range"]  # sessions: min 0, max 50, as a YAML plan writes it
    version = stack.create_plan(plan)
    sid = open_sub(stack, (programme_id, version))
    summary = stream(stack, (sid, [good("high", sessions=51), good("ok", sessions=50)]))
    assert {(r.record_ref, r.field) for r in summary.rejections} == {("high", "sessions")}


# -- recording access ---------------------------------------------------------------

def test_access_must_name_delivered_fields_who_and_why(stack, programme, stores):
    sid = open_sub(stack, programme)
    stream(stack, (sid, goods("access", 5)))
    settle(stack, stores, sid, 5)
    entries = flows(stack, sid)
    delivery = next(e for e in entries if e.kind == ledger_pb2.ENTRY_KIND_DELIVERY
                    and e.purpose_id == "eval")
    aggregate = next(e for e in entries if e.kind == ledger_pb2.ENTRY_KIND_DELIVERY
                     and e.purpose_id == "counts")
    units = stack.units()
    evaluation = meta(stack, "unit", "evaluation")

    def access(delivery_id=delivery.delivery_id, accessor="analyst A", fields=("region",),
               reason="Q3 report", who=evaluation):
        return units.RecordAccess(ledger_pb2.RecordAccessRequest(
            delivery_id=delivery_id, accessor=accessor, fields=list(fields), reason=reason),
            metadata=who)

    for bad_fields in (["client_ref"], ["region", "favourite_food"], ["slk581"], []):
        err = rpc_error(access, fields=bad_fields)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (bad_fields, err.details())
    # An aggregate carries only its dimensions and measures.
    err = rpc_error(access, delivery_id=aggregate.delivery_id, fields=["referral_date"],
                    who=meta(stack, "unit", "service-delivery"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    for accessor, reason in (("", "Q3 report"), ("analyst A", ""), ("   ", "Q3 report"),
                             ("analyst A", " \t"), ("", "")):
        err = rpc_error(access, accessor=accessor, reason=reason)
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (accessor, reason)
        assert "accessor" in err.details() and "reason" in err.details()
    for delivery_id in ("no-such-delivery", aggregate.delivery_id):
        err = rpc_error(access, delivery_id=delivery_id)  # not this unit's
        assert err.code() == grpc.StatusCode.NOT_FOUND

    assert [e for e in flows(stack, sid) if e.kind == ledger_pb2.ENTRY_KIND_ACCESS] == []
    entry = access(fields=["region", "sessions"]).entry
    assert (entry.accessor, list(entry.fields)) == ("analyst A", ["region", "sessions"])
    assert len([e for e in flows(stack, sid) if e.kind == ledger_pb2.ENTRY_KIND_ACCESS]) == 1
