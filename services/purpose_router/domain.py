"""purpose_router's rules as plain functions: per-purpose projection (an
allow-list), aggregates with small numbers protected, and the ledger's hash
chain. No I/O here."""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from collections import defaultdict

from tiaki.core.messages import is_text
from tiaki.core.plan import Plan, Purpose

NOT_RECORDED = "not recorded"


# -- projection ---------------------------------------------------------------

def delivered_fields(plan: Plan, purpose: Purpose) -> tuple[str, ...]:
    """Exactly the field names a unit-level delivery for this purpose may carry."""
    extra = ("pseudonym",) + (("slk581",) if purpose.include_slk581 else ())
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
        row = {"pseudonym": record["pseudonyms"][pid]}
        if purpose.include_slk581 and record.get("slk581"):
            row["slk581"] = record["slk581"]
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
    return None


# -- holdings: who holds what about a person -----------------------------------

HOLDING_BUCKETS = 64


def holding_bucket(pseudonym: str) -> str:
    return f"{zlib.crc32(pseudonym.encode()) % HOLDING_BUCKETS:02d}"


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
    cells: dict[str, list] = defaultdict(lambda: [0, [0] * len(purpose.measures)])
    for record in records:
        fields = record["fields"]
        key = json.dumps([str(fields.get(d, NOT_RECORDED)) for d in purpose.dimensions])
        cell = cells[key]
        cell[0] += 1
        for i, m in enumerate(purpose.measures):
            cell[1][i] += int(fields.get(m, 0))
    return dict(cells)


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


# -- the ledger's hash chain --------------------------------------------------

GENESIS = "0" * 64
HASHED_FIELDS = ("sequence", "kind", "delivery_id", "provider_id", "programme_id",
                 "submission_id", "purpose_id", "unit_id", "fields", "record_count",
                 "content_hash", "accessor", "reason", "recorded_at", "previous_hash")


def content_hash(payload: object) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict) -> str:
    """SHA-256 over the entry's hashed fields, previous_hash included: change,
    drop or reorder any entry and every later link breaks."""
    return hashlib.sha256(canonical_json({k: entry[k] for k in HASHED_FIELDS})).hexdigest()


def verify_chain(entries: list[dict],
                 kept: tuple[int, str] | None = None) -> tuple[bool, int, str]:
    """Checks a provider's chain in sequence order: (intact, first broken sequence, problem).

    With `kept`, a (sequence, entry_hash) head the provider kept earlier, the
    chain must still reach that entry with that hash: the chain alone cannot
    show that its last entries were removed."""
    previous = GENESIS
    present = {e.get("sequence") for e in entries}
    for expected_seq, entry in enumerate(entries, start=1):
        seq = entry["sequence"]
        if seq != expected_seq:
            if expected_seq in present:
                return False, expected_seq, (f"entries are out of order: entry {seq} stands "
                                             f"where entry {expected_seq} should")
            return False, expected_seq, f"entry {expected_seq} is missing (found {seq})"
        if entry["previous_hash"] != previous:
            return False, seq, "does not link to the entry before it"
        if entry_hash(entry) != entry["entry_hash"]:
            return False, seq, "its contents do not match its hash"
        previous = entry["entry_hash"]
    if kept and kept[0] > 0:
        kept_seq, kept_hash = kept
        if kept_seq > len(entries):
            return False, len(entries) + 1, (
                f"the chain ends at entry {len(entries)}, before the head you kept "
                f"(entry {kept_seq}): entries were removed")
        if entries[kept_seq - 1]["entry_hash"] != kept_hash:
            return False, kept_seq, (f"entry {kept_seq} is not the head you kept: the chain "
                                     "was rewritten up to it")
    return True, 0, ""
