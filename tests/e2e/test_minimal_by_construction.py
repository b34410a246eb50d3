"""Minimal by construction, as a property of the running services: for any plan
and any records, no Agency unit ever receives a field that is not declared for
the purpose it receives it under, and one client's pseudonyms differ between
purposes. Plans and records are generated (hypothesis) and go through the real
intake, purpose_router and unit consumers over gRPC and RabbitMQ."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tiaki.intake.v1 import intake_pb2 as pb
from tiaki.unit.store import UnitStore

UNITS = ("evaluation", "service-delivery")
TYPES = ("string", "integer", "date", "enum", "boolean")
WORDS = ("alpha", "beta", "gamma", "Māori", "Pacific Peoples", "0-4", "65+", "yes", "n/a")
BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False,
            "TRUE": True, " No ": False}
# Names a provider might send that no plan declares (some are what intake itself adds).
UNDECLARED = ("favourite_food", "nhi_number", "pseudonym", "slk581", "client_ref", "record_ref",
              "family_name", "date_of_birth")
TEXT = st.text(alphabet="abcdefXYZ āū'-0123", min_size=1, max_size=12)


@st.composite
def plans(draw) -> dict:
    purpose_ids = [f"purpose_{k}" for k in range(draw(st.integers(1, 3)))]
    purposes = [{"purpose_id": pid, "name": pid, "unit_id": draw(st.sampled_from(UNITS)),
                 "form": draw(st.sampled_from(("unit_level", "aggregate")))}
                for pid in purpose_ids]
    items = []
    for i in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(TYPES))
        item = {"name": f"item_{i}", "type": kind, "required": draw(st.booleans())}
        if kind == "enum":
            item["allowed_values"] = draw(st.lists(st.sampled_from(WORDS), min_size=1,
                                                   max_size=4, unique=True))
        if kind == "integer" and draw(st.booleans()):
            low = draw(st.integers(-50, 50))
            item.update(has_range=True, min=low, max=draw(st.integers(low, low + 100)))
        uses = draw(st.lists(st.sampled_from(purpose_ids), min_size=1, unique=True))
        item["uses"] = [{"purpose_id": pid} for pid in uses]
        items.append(item)
    for pid in purpose_ids:  # every purpose needs at least one item declared for it
        if not any(pid in used_by(item) for item in items):
            draw(st.sampled_from(items))["uses"].append({"purpose_id": pid})
    for purpose in purposes:
        declared = [i for i in items if purpose["purpose_id"] in used_by(i)]
        if purpose["form"] == "aggregate":
            groupable = [i["name"] for i in declared if i["type"] in ("enum", "boolean")]
            summable = [i["name"] for i in declared if i["type"] == "integer"]
            purpose["dimensions"] = draw(st.lists(st.sampled_from(groupable), max_size=2,
                                                  unique=True)) if groupable else []
            purpose["measures"] = draw(st.lists(st.sampled_from(summable), max_size=2,
                                                unique=True)) if summable else []
            purpose["suppress_below"] = draw(st.sampled_from((0, 0, 2, 6)))
        else:
            purpose["include_slk581"] = draw(st.booleans())
    return {"programme_id": f"prop-{uuid.uuid4().hex[:10]}", "name": "Generated",
            "units": [{"unit_id": u, "name": u} for u in UNITS],
            "purposes": purposes, "items": items}


def used_by(item: dict) -> set[str]:
    return {use["purpose_id"] for use in item["uses"]}


def value(item: dict):
    """A strategy of (text sent, value the unit should get) for a schedule item."""
    kind = item["type"]
    if kind == "string":
        # Intake trims every value: the unit gets the text without its outer spaces.
        return TEXT.filter(lambda t: t.strip()).map(lambda t: (t, t.strip()))
    if kind == "integer":
        ints = (st.integers(item["min"], item["max"]) if item.get("has_range")
                else st.integers(-10**9, 10**9))
        return ints.map(lambda n: (str(n), n))
    if kind == "date":
        # Valid dates: never after the end of the period submitted (2026Q3).
        return st.dates(dt.date(1990, 1, 1), dt.date(2026, 9, 30)).map(
            lambda d: (d.isoformat(), d.isoformat()))
    if kind == "enum":
        return st.sampled_from(item["allowed_values"]).map(lambda v: (v, v))
    return st.sampled_from(sorted(BOOLEANS)).map(lambda v: (v, BOOLEANS[v]))


@st.composite
def records(draw, plan: dict) -> list[dict]:
    """Valid records; some carry undeclared fields too (and must be rejected whole)."""
    clients = draw(st.integers(1, 6))
    out = []
    for n in range(draw(st.integers(1, 14))):
        sent, typed = {}, {}
        for item in plan["items"]:
            if item["required"] or draw(st.booleans()):
                sent[item["name"]], typed[item["name"]] = draw(value(item))
        extras = draw(st.lists(st.sampled_from(UNDECLARED), max_size=2, unique=True)
                      if draw(st.integers(0, 3)) == 0 else st.just([]))
        for name in extras:
            sent[name] = draw(TEXT)
        identity = None
        if draw(st.booleans()):
            identity = pb.ClientIdentity(
                family_name=draw(st.sampled_from(("Ngata", "Te Rangi", "O", "Smith"))),
                given_name=draw(st.sampled_from(("Aroha", "Mei", "Jo"))),
                date_of_birth=draw(st.dates(dt.date(1940, 1, 1), dt.date(2020, 1, 1))).isoformat(),
                sex=draw(st.sampled_from(("male", "female", "other", "not_stated"))))
        out.append({"record_ref": f"r{n}", "client_ref": f"client-{draw(st.integers(1, clients))}",
                    "sent": sent, "typed": typed, "extras": extras, "identity": identity})
    return out


def to_message(row: dict) -> pb.Record:
    message = pb.Record(record_ref=row["record_ref"], client_ref=row["client_ref"],
                        fields=row["sent"])
    if row["identity"] is not None:
        message.identity.CopyFrom(row["identity"])
    return message


def submit(stack, plan: dict, version: int, rows: list[dict], split: int):
    intake = stack.intake()
    meta = stack.metadata("provider", "ccss")
    sid = intake.OpenSubmission(pb.OpenSubmissionRequest(
        programme_id=plan["programme_id"], plan_version=version, period="2026Q3"),
        metadata=meta, timeout=60).submission.submission_id
    messages = [to_message(r) for r in rows]
    batches = [messages[:split], messages[split:]]
    summary = intake.SubmitRecords(
        (pb.SubmitRecordsRequest(submission_id=sid, records=b) for b in batches if b),
        metadata=meta, timeout=60)
    intake.SealSubmission(pb.SealSubmissionRequest(submission_id=sid), metadata=meta, timeout=60)
    return sid, summary


def deliveries(stack, stores, sid: str, purpose: dict) -> list[dict]:
    store = stores[purpose["unit_id"]]
    return list(store.deliveries.find({"submission_id": sid, "purpose_id": purpose["purpose_id"]}))


def allow_list(plan: dict, purpose: dict) -> list[str]:
    return [i["name"] for i in plan["items"] if purpose["purpose_id"] in used_by(i)]


def canonical(row: dict) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_no_unit_ever_receives_a_field_not_declared_for_its_purpose(stack, data):
    plan = data.draw(plans(), label="plan")
    rows = data.draw(records(plan), label="records")
    split = data.draw(st.integers(0, len(rows)), label="split")
    version = stack.create_plan(plan)
    sid, summary = submit(stack, plan, version, rows, split)

    # Identity details are refused, detail by detail, unless a purpose asks for SLK-581.
    slk_asked = any(p.get("include_slk581") for p in plan["purposes"])
    refused = {r["record_ref"]: list(r["extras"]) + (
        [] if slk_asked or r["identity"] is None else [
            "identity.family_name", "identity.given_name", "identity.date_of_birth",
            "identity.sex"]) for r in rows}
    clean = [r for r in rows if not refused[r["record_ref"]]]
    assert summary.accepted_count == len(clean)
    assert summary.rejected_count == len(rows) - len(clean)
    assert {(r.record_ref, r.field) for r in summary.rejections} == {
        (ref, name) for ref, names in refused.items() for name in names}

    stores = {unit: UnitStore(stack.db_uri(f"unit_{unit}")) for unit in UNITS}
    unit_level = [p for p in plan["purposes"] if p["form"] == "unit_level"]
    aggregate = [p for p in plan["purposes"] if p["form"] == "aggregate"]

    def arrived():
        return (all(sum(d["record_count"] for d in deliveries(stack, stores, sid, p)) == len(clean)
                    for p in unit_level)
                # A submission that accepted nothing is abandoned at its seal: no aggregate.
                and (not clean or all(deliveries(stack, stores, sid, p) for p in aggregate)))

    stack.wait_for(arrived, 60, f"every purpose's delivery of {sid}")
    time.sleep(0.3)  # and nothing more arrives after it

    pseudonyms = {}
    for purpose in unit_level:
        allowed = ["pseudonym"] + (["slk581"] if purpose["include_slk581"] else []) + \
            allow_list(plan, purpose)
        delivered = deliveries(stack, stores, sid, purpose)
        assert all(d["kind"] == "records" for d in delivered)
        assert sum(d["record_count"] for d in delivered) == len(clean)
        got = []
        for d in delivered:
            assert sorted(d["fields"]) == sorted(allowed), (purpose, d["fields"])
            content = stores[purpose["unit_id"]].content(d["_id"])
            assert len(content) == d["record_count"]
            got.extend(content)
        for row in got:
            assert set(row) <= set(allowed), (purpose["purpose_id"], sorted(row))
            assert "pseudonym" in row
        with_slk = sum("slk581" in row for row in got)
        assert with_slk == (sum(r["identity"] is not None for r in clean)
                            if purpose["include_slk581"] else 0)
        # Exactly the declared values of the records that were not rejected.
        declared = set(allow_list(plan, purpose))
        want = Counter(canonical({k: v for k, v in r["typed"].items() if k in declared})
                       for r in clean)
        have = Counter(canonical({k: v for k, v in row.items() if k not in ("pseudonym", "slk581")})
                       for row in got)
        assert have == want
        pseudonyms[purpose["purpose_id"]] = {row["pseudonym"] for row in got}
        assert len(pseudonyms[purpose["purpose_id"]]) == len({r["client_ref"] for r in clean})
        assert not pseudonyms[purpose["purpose_id"]] & {r["client_ref"] for r in rows}

    # One client's pseudonyms differ between two unit-level purposes: the streams cannot be joined.
    seen = list(pseudonyms.values())
    for i, first in enumerate(seen):
        for second in seen[i + 1:]:
            assert not first & second

    for purpose in aggregate:
        delivered = deliveries(stack, stores, sid, purpose)
        if not clean:  # abandoned at its seal: nothing to aggregate, nothing sent
            assert delivered == []
            continue
        assert len(delivered) == 1 and delivered[0]["kind"] == "aggregate"
        assert delivered[0]["fields"] == purpose["dimensions"] + purpose["measures"]
        assert delivered[0]["record_count"] == len(clean)
        cells = stores[purpose["unit_id"]].content(delivered[0]["_id"])
        for cell in cells:
            assert set(cell["dimensions"]) == set(purpose["dimensions"])
            if cell["suppressed"]:
                assert set(cell) == {"dimensions", "suppressed"}
            else:
                assert set(cell) == {"dimensions", "suppressed", "count", "sums"}
                assert set(cell["sums"]) == set(purpose["measures"])
        if purpose["suppress_below"] == 0:  # nothing withheld: the sums add up exactly
            for m in purpose["measures"]:
                assert sum(c["sums"][m] for c in cells) == sum(r["typed"].get(m, 0) for r in clean)

    # Nothing of this submission went to a unit under a purpose it is not for.
    ids = {p["purpose_id"] for p in plan["purposes"]}
    for unit, store in stores.items():
        for d in store.deliveries.find({"submission_id": sid}):
            purpose = next(p for p in plan["purposes"] if p["purpose_id"] == d["purpose_id"])
            assert d["purpose_id"] in ids and purpose["unit_id"] == unit
