"""A unit's review of a family's access query, as plain rules (no I/O): a
unit set to answer after review keeps the query waiting with the records it
would give, numbered; a person approves the answer, withholding items, each
under a ground of the Privacy Act 2020 ss 49-53 (tiaki.core.withholding).

    draft = numbered(held)                      # when the query arrives
    answer = approve(draft, [Withholding(2, "goals_met", "s53(b)")], "aroha.ngata")
"""

from __future__ import annotations

from dataclasses import dataclass

from tiaki.core.errors import Invalid, NotNow
from tiaki.core.person import person_id
from tiaki.core.withholding import ground

ANSWER_MODES = ("auto", "review")
# Where a held query is: waiting for a person, approved (its answer being
# sent to the requests service), sent (the requests service has it).
WAITING, APPROVED, SENT = "waiting", "approved", "sent"


@dataclass(frozen=True)
class Withholding:
    """One item of one record (by its number in the draft) withheld, and why."""
    record: int
    item: str
    ground: str


def answer_mode(value: str | None) -> str:
    """A unit's configured way of answering: "auto" (the default) or "review"."""
    mode = (value or "auto").strip()
    if mode not in ANSWER_MODES:
        raise Invalid("answer", f"a unit answers {' or '.join(ANSWER_MODES)}, not {mode!r}")
    return mode


def numbered(held: list[dict]) -> list[dict]:
    """The records a query's answer would give ({delivery_id, purpose_id,
    period, fields, statements}), numbered from 1 for the reviewer."""
    return [dict(r, number=n) for n, r in enumerate(held, 1)]


def approve(draft: list[dict], withholdings: list[Withholding], person: str,
            state: str = WAITING) -> list[dict]:
    """The answer a person approved: the draft's records with each withheld
    item's value taken out and listed under "withheld" with its ground code.
    Only a waiting query is approved, only by a named person, and each item
    withheld is one the record holds, withheld once, under a ground of ss 49-53."""
    if state != WAITING:
        raise NotNow("", f"this query is {state}, not waiting for review")
    if not person_id(person):
        raise Invalid("tiaki-person", "name the person approving the answer (tiaki-person)")
    by_number = {r["number"]: r for r in draft}
    withheld: dict[int, list[dict]] = {}
    for w in withholdings:
        record = by_number.get(w.record)
        if record is None:
            raise Invalid("withhold.record", f"there is no record {w.record}; the records are "
                                             f"numbered 1 to {len(draft)}")
        if w.item not in record["fields"]:
            raise Invalid("withhold.item", f"record {w.record} holds no item {w.item!r}")
        if any(x["item"] == w.item for x in withheld.get(w.record, ())):
            raise Invalid("withhold.item", f"{w.item!r} of record {w.record} is withheld twice")
        withheld.setdefault(w.record, []).append(
            {"item": w.item, "ground": ground(w.ground, "withhold.ground").code})
    answer = []
    for r in draft:
        out = {k: v for k, v in r.items() if k != "number"}
        gone = {x["item"] for x in withheld.get(r["number"], ())}
        out["fields"] = {k: v for k, v in r["fields"].items() if k not in gone}
        out["withheld"] = withheld.get(r["number"], [])
        answer.append(out)
    return answer


def withholdings_of(answer: list[dict]) -> list[Withholding]:
    """The withholdings an approved answer records, by record number."""
    return [Withholding(n, w["item"], w["ground"])
            for n, r in enumerate(answer, 1) for w in r.get("withheld", ())]
