"""The plan repository: the only code that reads or writes the `plans`
collection, for routing, co-design and agreements alike.

A plan version never changes once written, and neither does whether it was
agreed through co-design (the `codesign:<agency>` mark written in the same
insert as the plan), so versions are cached for the life of the process."""

from __future__ import annotations

from dataclasses import dataclass

import mongoengine as me

from tiaki.core.clock import utc_now
from tiaki.core.errors import Conflict
from tiaki.core.plan import Plan
from tiaki.plumbing import store

AGREED_MARK = "codesign:"


class StoredPlan(me.Document):
    meta = {"collection": "plans", "indexes": [{"fields": ["programme_id", "-version"]}]}
    plan_key = me.StringField(primary_key=True)  # "<programme>@<version>"
    programme_id = me.StringField(required=True)
    version = me.IntField(required=True)
    plan = me.DictField(required=True)
    created_at = me.DateTimeField(required=True)
    created_by = me.StringField(required=True)


@dataclass(frozen=True)
class PlanVersion:
    plan: Plan
    agreed: bool  # published through co-design


def plan_key(programme_id: str, version: int) -> str:
    return f"{programme_id}@{version}"


def _version(doc: dict | None) -> PlanVersion | None:
    if doc is None:
        return None
    return PlanVersion(Plan.from_dict(doc["plan"]),
                       str(doc.get("created_by", "")).startswith(AGREED_MARK))


class PlanRepository:
    def __init__(self):
        self.plans = store.Collection(StoredPlan)
        self._versions: dict[tuple[str, int], PlanVersion] = {}
        # Once a programme is co-designed it stays so: its plans change only by co-design.
        self._codesigned: set[str] = set()

    def ensure_indexes(self):
        StoredPlan.ensure_indexes()

    def stored(self, programme_id: str, version: int) -> PlanVersion | None:
        """One version as stored (the latest with version 0), uncached."""
        if version:
            return _version(self.plans.get(plan_key(programme_id, version)))
        return _version(self.plans.latest({"programme_id": programme_id}, by="version"))

    def version(self, programme_id: str, version: int) -> PlanVersion | None:
        """A version (the latest with version 0): an exact version is read once."""
        if version and (programme_id, version) in self._versions:
            return self._versions[(programme_id, version)]
        found = self.stored(programme_id, version)
        if found is not None:
            self._versions[(programme_id, found.plan.version)] = found
        return found

    def plan(self, programme_id: str, version: int) -> Plan | None:
        found = self.version(programme_id, version)
        return found.plan if found else None

    def latest(self, programme_id: str) -> Plan | None:
        found = self.stored(programme_id, 0)
        return found.plan if found else None

    def is_agreed(self, programme_id: str, version: int) -> bool:
        found = self.version(programme_id, version) if version else None
        return bool(found and found.agreed)

    def codesigned(self, programme_id: str) -> bool:
        """Whether the programme has a version published through co-design."""
        if programme_id not in self._codesigned and any(
                str(d.get("created_by", "")).startswith(AGREED_MARK)
                for d in self.plans.find({"programme_id": programme_id}, fields=["created_by"])):
            self._codesigned.add(programme_id)
        return programme_id in self._codesigned

    def create(self, plan_dict: dict, created_by: str) -> Plan:
        """Stores the programme's next plan version (checked before storing)."""
        def attempt() -> Plan:
            latest = self.latest(plan_dict.get("programme_id", ""))
            plan = Plan.from_dict(plan_dict, version=latest.version + 1 if latest else 1)
            if not self._insert(plan, created_by):
                raise Conflict("version", "taken by another writer")  # take the next
            return plan

        return store.retrying(attempt, what="plan versions kept being taken; try again")

    def publish(self, plan: Plan, agency_id: str) -> bool:
        """Writes a co-designed plan as exactly its version, marked agreed. True
        also when a publish cut short wrote it already; False when that version
        exists as something else (made outside co-design)."""
        if self._insert(plan, f"{AGREED_MARK}{agency_id}"):
            return True
        existing = self.stored(plan.programme_id, plan.version)
        return bool(existing and existing.agreed and existing.plan.to_dict() == plan.to_dict())

    def _insert(self, plan: Plan, created_by: str) -> bool:
        return self.plans.insert({
            "_id": plan_key(plan.programme_id, plan.version), "programme_id": plan.programme_id,
            "version": plan.version, "plan": plan.to_dict(), "created_at": utc_now(),
            "created_by": created_by})
