"""purpose_router's routing rules as plain functions: per-purpose projection
(an allow-list), who holds what about a person, aggregates with small numbers
protected, and the body of each delivery and its ledger entry. No I/O here
(the ledger's format is tiaki.core.ledger)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import defaultdict

from services.purpose_router.codesign import notice
from tiaki.core.errors import Invalid
from tiaki.core.ledger import content_hash, new_entry
from tiaki.core.messages import is_text
from tiaki.core.plan import Plan, Purpose
from tiaki.core.records import BUCKETS, PSEUDONYM, SLK581, bucket

NOT_RECORDED = "not recorded"


# -- projection ---------------------------------------------------------------

def delivered_fields(plan: Plan, purpose: Purpose) -> tuple[str, ...]:
    """Exactly the field names a unit-level delivery for this purpose may carry."""
    extra = (PSEUDONYM,) + ((SLK581,) if purpose.include_slk581 else ())
    return extra + plan.fields_for_purpose(purpose.purpose_id)


def project(plan: Plan, purpose: Purpose, records: list[dict]) -> list[dict]:
    """Builds a unit's payload from the fields declared for its purpose only.

    Built up from the allow-list, never by deleting what the unit should not
    see, so a field added to a record upstream cannot leak through here."""
    allowed = plan.fields_for_purpose(purpose.purpose_id)
    pid = purpose.purpose_id
    out = []
    for record in records:
        fields = record["fields"]
        row = {PSEUDONYM: record["pseudonyms"][pid]}
        if purpose.include_slk581 and record.get(SLK581):
            row[SLK581] = record[SLK581]
        for name in allowed:
            if name in fields:
                row[name] = fields[name]
        out.append(row)
    return out


# -- what an event must carry (checked before anything is stored) ---------------

def _events_problem(event, text: tuple[str, ...]) -> str | None:
    if not isinstance(event, dict):
        return f"an event is a JSON object, not {type(event).__name__}"
    missing = [name for name in text if not is_text(event.get(name))]
    if missing:
        return f"needs text in {', '.join(missing)}"
    version = event.get("plan_version")
    if type(version) is not int or not 1 <= version < 2 ** 31:
        return "plan_version must be a version number"
    return None


def batch_problem(batch) -> str | None:
    """Why an accepted batch cannot be routed (None when it can)."""
    problem = _events_problem(batch, ("submission_id", "provider_id", "programme_id", "period",
                                      "batch_id"))
    if problem:
        return f"a batch {problem}"
    records = batch.get("records")
    if not isinstance(records, list) or not all(
            isinstance(r, dict) and isinstance(r.get("pseudonyms"), dict)
            and isinstance(r.get("fields"), dict)
            and (r.get("slk581") is None or is_text(r["slk581"])) for r in records):
        return "a batch's records are each {pseudonyms: {...}, fields: {...}, slk581?: text}"
    return None


def pseudonyms_problem(unit_purposes: list[Purpose], records: list[dict]) -> str | None:
    for i, record in enumerate(records):
        for p in unit_purposes:
            if not is_text(record["pseudonyms"].get(p.purpose_id)):
                return f"record {i} has no pseudonym for purpose {p.purpose_id!r}"
    return None


def partials_problem(partials: dict[str, dict[str, list]]) -> str | None:
    """A measure's sum the store cannot hold (beyond 64 bits) is not a real one."""
    for cells in partials.values():
        for _, sums in cells.values():
            if any(not -2 ** 63 <= s < 2 ** 63 for s in sums):
                return "a measure's sum is out of range"
    return None


def seal_problem(seal) -> str | None:
    problem = _events_problem(seal, ("submission_id", "provider_id", "programme_id", "period"))
    if problem:
        return f"a seal {problem}"
    ids = seal.get("batch_ids")
    if not isinstance(ids, list) or not all(is_text(b) for b in ids):
        return "a seal's batch_ids are a list of batch ids"
    if not is_text(seal.get("replaces_submission_id", ""), empty_ok=True):
        return "a seal's replaces_submission_id is a submission id"
    return None


# -- holdings: who holds what about a person -----------------------------------

# Buckets a batch's people are held in: a request looks in one per batch (a
# sixteenth of its people), and a batch costs the store 16 documents, not 64.
# Holdings stored before this were in BUCKETS (64), named by the bucket alone.
HOLDING_BUCKETS = 16


def holding_bucket(pseudonym: str, buckets: int = HOLDING_BUCKETS) -> str:
    """A pseudonym's holding bucket: "07/16" of 16; of the older 64, "07"."""
    found = bucket(pseudonym, buckets)
    return found if buckets == BUCKETS else f"{found}/{buckets}"


def batch_holdings(batch_id: str, unit_purposes: list[Purpose], records: list[dict]) -> list[dict]:
    """Where a batch's people went, in a few small documents a family's request
    can find by one keyed lookup: every unit-level purpose receives every record
    of the batch (see `project`), so a person found under the anchor purpose's
    pseudonym (the first purpose id) is held in each of the batch's deliveries.
    [{bucket, anchor, pseudonyms, deliveries: [[delivery_id, unit_id, purpose_id]]}]"""
    if not unit_purposes:
        return []
    anchor = min(p.purpose_id for p in unit_purposes)
    deliveries = [[f"{batch_id}:{p.purpose_id}", p.unit_id, p.purpose_id]
                  for p in sorted(unit_purposes, key=lambda p: p.purpose_id)]
    buckets: dict[str, set[str]] = defaultdict(set)
    for record in records:
        pseudonym = record["pseudonyms"][anchor]
        buckets[holding_bucket(pseudonym)].add(pseudonym)
    return [{"bucket": b, "anchor": anchor, "pseudonyms": sorted(members),
             "deliveries": deliveries} for b, members in sorted(buckets.items())]


# -- aggregates ---------------------------------------------------------------

def partial_aggregate(purpose: Purpose, records: list[dict]) -> dict[str, list]:
    """Counts and sums of one batch, by the purpose's dimensions.

    Keyed by the cell's dimension values as a JSON list so partials from many
    batches can be stored and added up when the submission is sealed."""
    dimensions, measures = purpose.dimensions, purpose.measures
    cells: dict[tuple, list] = {}  # by the dimension values; their JSON key once per cell
    for record in records:
        fields = record["fields"]
        values = tuple([str(fields.get(d, NOT_RECORDED)) for d in dimensions])
        cell = cells.get(values)
        if cell is None:
            cell = cells[values] = [0, [0] * len(measures)]
        cell[0] += 1
        sums = cell[1]
        for i, m in enumerate(measures):
            sums[i] += int(fields.get(m, 0))
    return {json.dumps(list(values)): cell for values, cell in cells.items()}


def add_partials(partials: list[dict[str, list]]) -> dict[str, list]:
    total: dict[str, list] = {}
    for partial in partials:
        for key, (count, sums) in partial.items():
            if key not in total:
                total[key] = [0, [0] * len(sums)]
            total[key][0] += count
            total[key][1] = [a + b for a, b in zip(total[key][1], sums)]
    return total


def fixed_random_round(count: int, cell_key: str, seed: bytes) -> int:
    """Random rounding to base 3 where the same cell and count always round
    the same way, so repeating a report cannot average back to the truth.

    Multiples of 3 stay; otherwise round up with probability remainder/3,
    which keeps the expected value; 1 and 2 never round down to 0."""
    remainder = count % 3
    if remainder == 0:
        return count
    if count < 3:
        return 3
    digest = hmac.new(seed, f"{cell_key}|{count}".encode(), hashlib.sha256).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return count - remainder + 3 if u < remainder / 3 else count - remainder


def protect(purpose: Purpose, cells: dict[str, list], seed: bytes) -> list[dict]:
    """The cells a unit may see: small cells suppressed, counts rounded.

    A suppressed cell is listed with its count withheld, so the unit knows the
    cell exists but not how small it is."""
    out = []
    for key in sorted(cells):
        count, sums = cells[key]
        # strict: cells counted under other groupings must never go out under these names
        dims = dict(zip(purpose.dimensions, json.loads(key), strict=True))
        if count < purpose.suppress_below:
            out.append({"dimensions": dims, "suppressed": True})
            continue
        row = {"dimensions": dims, "suppressed": False,
               "count": fixed_random_round(count, key, seed)}
        row["sums"] = dict(zip(purpose.measures, sums, strict=True))
        out.append(row)
    return out


# -- deliveries and their ledger entries ----------------------------------------

DELIVERY_FIELDS = ("delivery_id", "provider_id", "programme_id", "submission_id", "purpose_id",
                   "unit_id", "fields", "record_count", "content_hash", "period",
                   "plan_version", "agreement_version", "notice_version", "basis")
ACKNOWLEDGED_FIELDS = ("delivery_id", "provider_id", "programme_id", "submission_id",
                       "purpose_id", "unit_id", "record_count", "content_hash")
ACCESSED_FIELDS = ("delivery_id", "provider_id", "programme_id", "submission_id", "purpose_id",
                   "unit_id")


def delivery_body(source: dict, plan: Plan, purpose: Purpose, delivery_id: str, kind: str,
                  content: list[dict], record_count: int, said: dict | None = None) -> dict:
    """What a unit receives: one delivery of a batch's records ("records") or of
    a sealed submission's protected cells ("aggregate"), its content hashed,
    with its provenance: the period, the plan, agreement and families' notice
    versions it was collected under, and its IPP 3A basis. `source` is the
    batch or the seal it comes from; `said`, what that notice tells families."""
    fields = (list(purpose.dimensions) + list(purpose.measures) if kind == "aggregate"
              else list(delivered_fields(plan, purpose)))
    return {
        "delivery_id": delivery_id, "kind": kind, "provider_id": source["provider_id"],
        "programme_id": plan.programme_id, "plan_version": plan.version,
        "submission_id": source["submission_id"], "period": source["period"],
        "agreement_version": source.get("agreement_version") or 0,
        "notice_version": source.get("notice_version") or 0,
        "basis": notice.basis(source["period"], purpose.form, purpose.unit_id,
                              purpose.purpose_id, said),
        "purpose_id": purpose.purpose_id, "unit_id": purpose.unit_id, "fields": fields,
        "record_count": record_count, "content_hash": content_hash(content),
        ("records" if kind == "records" else "cells"): content,
    }


def delivery_entry(body: dict) -> dict:
    """The ledger entry recording a delivery (its content only by hash)."""
    return new_entry("delivery", **{k: body[k] for k in DELIVERY_FIELDS})


def acknowledgement_entry(delivery: dict, person: str = "") -> dict:
    """The ledger entry recording that a unit (its `person`, when named) received a delivery."""
    return new_entry("acknowledgement", **{k: delivery[k] for k in ACKNOWLEDGED_FIELDS},
                     person=person)


def supersession_entry(delivery: dict, by: str) -> dict:
    """The ledger entry marking a delivery of a replaced submission superseded
    by the replacement `by` (its submission_id; the delivery names the earlier one)."""
    return new_entry("supersession", **{k: delivery[k] for k in ACCESSED_FIELDS
                                        if k != "submission_id"},
                     submission_id=by, period=delivery["period"],
                     record_count=delivery["record_count"],
                     reason=f"submission {delivery['submission_id']} replaced by its "
                            f"correction {by}")


def supersession_body(seal: dict, unit_id: str, delivery_ids: list[str]) -> dict:
    """What a unit is told when a replacement is sealed: these deliveries of
    the earlier submission are superseded by it."""
    return {"kind": "supersession", "delivery_id": f"{seal['submission_id']}:supersedes:{unit_id}",
            "unit_id": unit_id, "provider_id": seal["provider_id"],
            "programme_id": seal["programme_id"], "period": seal["period"],
            "submission_id": seal["submission_id"],
            "supersedes_submission_id": seal["replaces_submission_id"],
            "delivery_ids": sorted(delivery_ids)}


def access_entry(delivery: dict, fields: list[str], accessor: str, reason: str,
                 person: str = "") -> dict:
    """The ledger entry recording who used which delivered fields, and why;
    Invalid without who and why, or naming a field the delivery did not carry."""
    accessor, reason = accessor.strip(), reason.strip()
    if not accessor or not reason:
        raise Invalid("", "an access needs who accessed it (accessor) and why (reason)")
    unknown = sorted(set(fields) - set(delivery["fields"]))
    if unknown or not fields:
        raise Invalid("", f"fields must be some of the delivered fields {delivery['fields']}; "
                          f"not delivered: {unknown}")
    return new_entry("access", **{k: delivery[k] for k in ACCESSED_FIELDS},
                     fields=list(fields), accessor=accessor, reason=reason, person=person)
