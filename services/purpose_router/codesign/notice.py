"""The families' notice (IPP 3A) as plain rules (no I/O).

The families' letter is the provider's notice: what is sent, why, and to
which of the Agency's units. A notice version is numbered per provider and
programme and changes whenever what the letter says changes; a submission
records the version in force for its period, and routing delivers only to
units that version names. A period keeps the notice (and the plan and
agreement versions) of its first submission: what families were told for a
period is never changed by what is decided later."""

from __future__ import annotations

import hashlib

from tiaki.core.ledger import IPP3A_IN_FORCE, canonical_json
from tiaki.core.periods import period_days
from tiaki.core.plan import Plan


def facts(plan: Plan, codesigned: bool) -> dict:
    """What a letter made from `plan` (as agreed with the provider) tells
    families: each item sent, for which purposes, to which unit, in what
    form, kept how long; and whether the plan was co-designed."""
    return {
        "codesigned": codesigned,
        "items": [{"item": i.name, "uses": [
            {"purpose_id": u.purpose_id, "unit_id": plan.purpose(u.purpose_id).unit_id,
             "form": plan.purpose(u.purpose_id).form, "retention": u.retention}
            for u in i.uses]} for i in plan.items],
    }


def fingerprint(said: dict) -> str:
    return hashlib.sha256(canonical_json(said)).hexdigest()


def units_named(said: dict) -> set[str]:
    return {u["unit_id"] for i in said["items"] for u in i["uses"]}


def purposes_named(said: dict, unit_id: str) -> set[str]:
    return {u["purpose_id"] for i in said["items"] for u in i["uses"] if u["unit_id"] == unit_id}


def unnamed_receiver(plan: Plan, said: dict, number: int, period: str, names: dict) -> str:
    """Why `plan` may not be collected under the notice in force for the
    period: the first unit it would deliver to that the notice does not name
    ("" when it names them all). Refused before anything is collected."""
    named = units_named(said)
    for purpose in plan.purposes:
        if purpose.unit_id not in named and plan.fields_for_purpose(purpose.purpose_id):
            return (f"the families' notice in force for {period} (version {number}) does not "
                    f"name {names.get(purpose.unit_id) or purpose.unit_id} (unit "
                    f"{purpose.unit_id}), which this plan sends {purpose.name.lower()} data to; "
                    "families were told who gets their information for this period, so that "
                    "cannot change: submit it under the terms it was first collected under, "
                    "or for a later period")
    return ""


def before_ipp3a(period: str) -> bool:
    """A period that ended before IPP 3A came into force (1 May 2026)."""
    return period_days(period)[1] < IPP3A_IN_FORCE


def basis(period: str, form: str, unit_id: str, purpose_id: str, said: dict | None) -> str:
    """The IPP 3A basis of one delivery (one of tiaki.core.ledger.IPP3A_BASES)."""
    if before_ipp3a(period):
        return "before_ipp3a"
    if form == "aggregate":
        return "not_identifiable"
    if said is not None and purpose_id in purposes_named(said, unit_id):
        return "aware_through_notice"
    return "agency_notice"
