"""purpose_router's rules: a unit receives only what its purpose allows,
aggregates protect small numbers, and the ledger's hash chain shows tampering."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.purpose_router.routing import domain
from services.purpose_router.routing.domain import (
    NOT_RECORDED,
    add_partials,
    delivered_fields,
    fixed_random_round,
    partial_aggregate,
    project,
    protect,
)
from tiaki.core import ledger
from tiaki.core.ledger import BLANK_ENTRY, GENESIS, HASHED_FIELDS, entry_hash
from tiaki.core.plan import RESERVED_FIELDS, Plan
from tiaki.core.records import BUCKETS


def verify_chain(entries, kept=None):
    """The ledger's verdict as (intact, first broken sequence, problem)."""
    verdict = ledger.verify_chain(entries, kept)
    return verdict.intact, verdict.first_broken, verdict.problem

BASE_PLAN = {
    "programme_id": "housing-support",
    "name": "Housing support 2025",
    "version": 1,
    "units": [{"unit_id": "housing-team", "name": "Housing policy team"},
              {"unit_id": "insights", "name": "Insights"}],
    "purposes": [
        {"purpose_id": "service-planning", "name": "Plan services",
         "unit_id": "housing-team", "form": "unit_level"},
        {"purpose_id": "case-linkage", "name": "Link across programmes",
         "unit_id": "insights", "form": "unit_level", "include_slk581": True},
        {"purpose_id": "outcomes-report", "name": "Outcomes", "unit_id": "insights",
         "form": "aggregate", "dimensions": ["region", "housed"],
         "measures": ["nights_housed", "visits"], "suppress_below": 6},
    ],
    "items": [
        {"name": "age", "type": "integer",
         "uses": [{"purpose_id": "service-planning"}]},
        {"name": "region", "type": "enum", "allowed_values": ["northland", "auckland"],
         "uses": [{"purpose_id": "service-planning"}, {"purpose_id": "case-linkage"},
                  {"purpose_id": "outcomes-report"}]},
        {"name": "housed", "type": "boolean", "uses": [{"purpose_id": "outcomes-report"}]},
        {"name": "nights_housed", "type": "integer",
         "uses": [{"purpose_id": "outcomes-report"}, {"purpose_id": "case-linkage"}]},
        {"name": "visits", "type": "integer", "uses": [{"purpose_id": "outcomes-report"}]},
        {"name": "case_notes", "type": "string", "uses": [{"purpose_id": "service-planning"}]},
    ],
}
SEED = b"outcomes-report rounding seed"


def make_plan(**overrides) -> Plan:
    data = copy.deepcopy(BASE_PLAN)
    data.update(copy.deepcopy(overrides))
    return Plan.from_dict(data)


def make_record(client: str = "c1", slk: str | None = None, **fields) -> dict:
    """A record as intake publishes it: a pseudonym per purpose, typed fields."""
    record = {
        "pseudonyms": {pid: f"{pid}:{client}"
                       for pid in ("service-planning", "case-linkage", "outcomes-report")},
        "fields": fields,
    }
    if slk is not None:
        record["slk581"] = slk
    return record


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan()


# -- what a unit receives ---------------------------------------------------------

def test_a_unit_receives_the_pseudonym_and_its_purposes_fields_only(plan):
    purpose = plan.purpose("service-planning")
    record = make_record(age=34, region="auckland", housed=True, nights_housed=12,
                         visits=3, case_notes="called twice", slk="MIHOH010120001")

    (row,) = project(plan, purpose, [record])

    assert row == {"pseudonym": "service-planning:c1", "age": 34, "region": "auckland",
                   "case_notes": "called twice"}


def test_the_delivered_fields_are_the_pseudonym_then_the_allow_list(plan):
    assert delivered_fields(plan, plan.purpose("service-planning")) == (
        "pseudonym", "age", "region", "case_notes")


def test_the_linkage_key_goes_only_to_the_purpose_that_asks_for_it(plan):
    record = make_record(age=34, region="auckland", nights_housed=5, slk="MIHOH010120001")

    (linkage_row,) = project(plan, plan.purpose("case-linkage"), [record])
    (planning_row,) = project(plan, plan.purpose("service-planning"), [record])

    assert linkage_row == {"pseudonym": "case-linkage:c1", "slk581": "MIHOH010120001",
                           "region": "auckland", "nights_housed": 5}
    assert "slk581" not in planning_row
    assert "slk581" in delivered_fields(plan, plan.purpose("case-linkage"))
    assert "slk581" not in delivered_fields(plan, plan.purpose("service-planning"))


def test_a_record_without_a_linkage_key_is_delivered_without_one(plan):
    (row,) = project(plan, plan.purpose("case-linkage"), [make_record(region="northland")])

    assert row == {"pseudonym": "case-linkage:c1", "region": "northland"}


def test_a_field_not_recorded_is_left_out_rather_than_sent_empty(plan):
    (row,) = project(plan, plan.purpose("service-planning"), [make_record(age=20)])

    assert row == {"pseudonym": "service-planning:c1", "age": 20}


def test_each_purpose_sees_a_client_under_its_own_pseudonym(plan):
    record = make_record(client="c7", age=1, region="northland")

    seen = {pid: project(plan, plan.purpose(pid), [record])[0]["pseudonym"]
            for pid in ("service-planning", "case-linkage")}

    assert seen == {"service-planning": "service-planning:c7",
                    "case-linkage": "case-linkage:c7"}


field_names = st.sampled_from([
    "age", "region", "iwi", "housed", "nights_housed", "visits", "case_notes", "address",
    "phone", "income", "referral_date", "exit_reason", "children", "disability", "gender",
])
values = st.one_of(st.integers(), st.text(max_size=10), st.booleans())


@st.composite
def plans_and_records(draw):
    """A random valid plan (unit-level purposes, items spread over them) and
    records carrying declared fields, other purposes' fields and fields no
    plan ever declared, including names intake itself adds."""
    n_purposes = draw(st.integers(1, 4))
    purpose_ids = [f"purpose-{i}" for i in range(n_purposes)]
    slk_for = draw(st.lists(st.booleans(), min_size=n_purposes, max_size=n_purposes))
    names = draw(st.lists(field_names, min_size=1, max_size=10, unique=True))
    items = []
    for index, name in enumerate(names):
        uses = set(draw(st.lists(st.sampled_from(purpose_ids), max_size=n_purposes)))
        uses.add(purpose_ids[index % n_purposes])
        items.append({"name": name, "type": "string",
                      "uses": [{"purpose_id": p} for p in sorted(uses)]})
    for index in range(len(names), n_purposes):  # every purpose needs an item
        items.append({"name": f"item_{index}", "type": "string",
                      "uses": [{"purpose_id": purpose_ids[index]}]})
    plan = Plan.from_dict({
        "programme_id": "random-programme", "name": "random", "version": 1,
        "units": [{"unit_id": "unit", "name": "A unit"}],
        "purposes": [{"purpose_id": pid, "unit_id": "unit", "form": "unit_level",
                      "include_slk581": slk}
                     for pid, slk in zip(purpose_ids, slk_for)],
        "items": items,
    })
    declared = [i.name for i in plan.items]
    extra = st.one_of(field_names, st.sampled_from(RESERVED_FIELDS), st.text(max_size=8))
    records = []
    for client in range(draw(st.integers(0, 6))):
        fields = draw(st.dictionaries(st.sampled_from(declared), values, max_size=len(declared)))
        fields.update(draw(st.dictionaries(extra, values, max_size=5)))
        record = {"pseudonyms": {pid: f"{pid}/client-{client}" for pid in purpose_ids},
                  "fields": fields}
        if draw(st.booleans()):
            record["slk581"] = f"MIHOH0101{2000 + client}1"
        records.append(record)
    return plan, records


@settings(max_examples=100, deadline=None)
@given(plans_and_records())
def test_a_unit_never_receives_a_field_outside_its_purposes_allow_list(case):
    plan, records = case
    for purpose in plan.purposes:
        allowed = set(delivered_fields(plan, purpose))
        declared = set(plan.fields_for_purpose(purpose.purpose_id))

        rows = project(plan, purpose, records)

        assert len(rows) == len(records)
        for row, record in zip(rows, records):
            assert set(row) <= allowed
            assert row["pseudonym"] == record["pseudonyms"][purpose.purpose_id]
            assert ("slk581" in row) == (purpose.include_slk581 and "slk581" in record)
            # Nothing the purpose may see is dropped, and values are passed as given.
            for name in declared & set(record["fields"]):
                assert row[name] == record["fields"][name]


# -- aggregates ----------------------------------------------------------------------

def cell(*dims) -> str:
    return json.dumps(list(dims))


def test_an_aggregate_counts_and_sums_by_the_purposes_dimensions(plan):
    purpose = plan.purpose("outcomes-report")
    records = [
        make_record(region="auckland", housed=True, nights_housed=10, visits=1, age=99),
        make_record(region="auckland", housed=True, nights_housed=5, visits=2),
        make_record(region="northland", housed=False, nights_housed=0, visits=4),
    ]

    cells = partial_aggregate(purpose, records)

    assert cells == {cell("auckland", "True"): [2, [15, 3]],
                     cell("northland", "False"): [1, [0, 4]]}


def test_a_dimension_not_recorded_gets_its_own_cell_and_a_missing_measure_counts_zero(plan):
    purpose = plan.purpose("outcomes-report")

    cells = partial_aggregate(purpose, [make_record(region="auckland", visits=2)])

    assert cells == {cell("auckland", NOT_RECORDED): [1, [0, 2]]}


def test_partials_with_different_cells_add_up_cell_by_cell():
    total = add_partials([{cell("a"): [1, [5]]}, {cell("a"): [2, [1]], cell("b"): [4, [0]]}])

    assert total == {cell("a"): [3, [6]], cell("b"): [4, [0]]}


def test_adding_no_partials_gives_no_cells():
    assert add_partials([]) == {}


def test_adding_partials_does_not_change_the_stored_partials():
    first, second = {cell("a"): [1, [5]]}, {cell("a"): [2, [1]]}
    before = copy.deepcopy([first, second])

    add_partials([first, second])

    assert [first, second] == before


aggregate_records = st.lists(
    st.fixed_dictionaries({}, optional={
        "region": st.sampled_from(["northland", "auckland"]),
        "housed": st.booleans(),
        "nights_housed": st.integers(0, 366),
        "visits": st.integers(0, 50),
    }).map(lambda fields: {"pseudonyms": {}, "fields": fields}),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(records=aggregate_records, cuts=st.lists(st.integers(0, 40), max_size=5))
def test_adding_the_partials_of_split_batches_equals_aggregating_all_at_once(records, cuts):
    purpose = make_plan().purpose("outcomes-report")
    bounds = [0, *sorted(min(c, len(records)) for c in cuts), len(records)]
    batches = [records[a:b] for a, b in itertools.pairwise(bounds)]

    # Partials are stored as JSON between batches and the seal.
    partials = [json.loads(json.dumps(partial_aggregate(purpose, b))) for b in batches]

    assert add_partials(partials) == partial_aggregate(purpose, records)


# -- random rounding to base 3 --------------------------------------------------------

@pytest.mark.parametrize("count", [0, 3, 6, 9, 30, 3000])
def test_multiples_of_3_are_never_changed(count):
    for key in (cell("auckland", "True"), cell("northland", "False"), "[]"):
        assert fixed_random_round(count, key, SEED) == count


@pytest.mark.parametrize("count", [1, 2])
def test_one_and_two_are_never_rounded_down_to_zero(count):
    for index in range(300):
        assert fixed_random_round(count, cell(f"region-{index}"), SEED) == 3


@settings(max_examples=200, deadline=None)
@given(count=st.integers(0, 10**6), key=st.text(max_size=30), seed=st.binary(max_size=32))
def test_a_rounded_count_is_a_multiple_of_3_within_2_of_the_truth(count, key, seed):
    rounded = fixed_random_round(count, key, seed)

    assert rounded % 3 == 0
    assert abs(rounded - count) <= 2
    assert rounded > 0 or count == 0


@settings(max_examples=100, deadline=None)
@given(count=st.integers(0, 10**4), key=st.text(max_size=30), seed=st.binary(max_size=32))
def test_the_same_cell_and_count_always_round_the_same_way(count, key, seed):
    first = fixed_random_round(count, key, seed)

    assert all(fixed_random_round(count, key, seed) == first for _ in range(5))


def test_rounding_really_is_random_across_cells():
    outcomes = {fixed_random_round(7, cell(f"region-{i}"), SEED) for i in range(100)}

    assert outcomes == {6, 9}


@pytest.mark.parametrize("count", [4, 5, 7, 8, 100, 1001])
def test_rounding_keeps_the_expected_value_over_many_cells(count):
    rounded = [fixed_random_round(count, cell(f"region-{i}", "True"), SEED)
               for i in range(3000)]

    assert abs(statistics.fmean(rounded) - count) < 0.15


# -- protecting small numbers ----------------------------------------------------------

def test_small_cells_are_suppressed_and_carry_no_count_or_sums(plan):
    purpose = plan.purpose("outcomes-report")
    cells = {cell("auckland", "True"): [5, [40, 7]],
             cell("northland", "True"): [1, [2, 1]]}

    rows = protect(purpose, cells, SEED)

    assert rows == [
        {"dimensions": {"region": "auckland", "housed": "True"}, "suppressed": True},
        {"dimensions": {"region": "northland", "housed": "True"}, "suppressed": True},
    ]


def test_cells_at_or_above_the_threshold_are_shown_with_rounded_counts_and_sums(plan):
    purpose = plan.purpose("outcomes-report")
    cells = {cell("auckland", "True"): [6, [60, 12]],
             cell("auckland", "False"): [7, [70, 14]]}

    rows = {json.dumps(r["dimensions"], sort_keys=True): r for r in protect(purpose, cells, SEED)}

    six = rows[json.dumps({"housed": "True", "region": "auckland"}, sort_keys=True)]
    seven = rows[json.dumps({"housed": "False", "region": "auckland"}, sort_keys=True)]
    assert six == {"dimensions": {"region": "auckland", "housed": "True"},
                   "suppressed": False, "count": 6,
                   "sums": {"nights_housed": 60, "visits": 12}}
    assert seven["suppressed"] is False
    assert seven["count"] in (6, 9)
    assert seven["count"] == fixed_random_round(7, cell("auckland", "False"), SEED)
    assert seven["sums"] == {"nights_housed": 70, "visits": 14}


def test_the_same_table_protects_the_same_way_every_time(plan):
    purpose = plan.purpose("outcomes-report")
    cells = {cell("auckland", str(h)): [n, [n, n]]
             for n, h in zip((7, 8, 10, 11), (True, False, "x", "y"))}

    assert protect(purpose, cells, SEED) == protect(purpose, cells, SEED)


def test_the_suppression_threshold_is_the_purposes_own():
    data = copy.deepcopy(BASE_PLAN)
    data["purposes"][2]["suppress_below"] = 10
    purpose = Plan.from_dict(data).purpose("outcomes-report")

    rows = protect(purpose, {cell("auckland", "True"): [9, [1, 1]],
                             cell("northland", "True"): [10, [1, 1]]}, SEED)

    assert [r["suppressed"] for r in rows] == [True, False]


@settings(max_examples=150, deadline=None)
@given(counts=st.lists(st.integers(1, 60), min_size=1, max_size=8))
def test_no_shown_count_is_below_the_threshold_or_not_a_multiple_of_3(counts):
    purpose = make_plan().purpose("outcomes-report")
    cells = {cell(f"r{i}", "True"): [n, [n, 0]] for i, n in enumerate(counts)}

    rows = protect(purpose, cells, SEED)

    assert len(rows) == len(cells)
    for row in rows:
        if row["suppressed"]:
            assert set(row) == {"dimensions", "suppressed"}
        else:
            assert row["count"] % 3 == 0 and row["count"] >= 6


# -- the ledger's hash chain ------------------------------------------------------------

def build_chain(length: int) -> list[dict]:
    """Entries linked the way storage appends them: sequence from 1, each
    entry's previous_hash the entry_hash of the one before, GENESIS first."""
    chain, previous = [], GENESIS
    for seq in range(1, length + 1):
        entry = {
            **BLANK_ENTRY,
            "sequence": seq,
            "kind": "delivery" if seq % 2 else "acknowledgement",
            "delivery_id": f"delivery-{seq}",
            "provider_id": "whanau-trust",
            "programme_id": "housing-support",
            "submission_id": "sub-2025-q1",
            "purpose_id": "service-planning",
            "unit_id": "housing-team",
            "fields": ["pseudonym", "age", "region"],
            "record_count": 10 * seq,
            "content_hash": f"{seq:064x}",
            "accessor": "",
            "reason": "",
            "recorded_at": f"2025-04-{seq:02d}T09:00:00+00:00",
            "previous_hash": previous,
            "entry_key": f"key-{seq}",
        }
        entry["entry_hash"] = entry_hash(entry)
        previous = entry["entry_hash"]
        chain.append(entry)
    return chain


def test_an_untouched_chain_is_intact():
    assert verify_chain(build_chain(6)) == (True, 0, "")


def test_an_empty_chain_is_intact():
    assert verify_chain([]) == (True, 0, "")


def test_the_first_entry_links_to_genesis():
    assert build_chain(1)[0]["previous_hash"] == GENESIS == "0" * 64


@pytest.mark.parametrize("field", HASHED_FIELDS)
def test_editing_any_hashed_field_of_an_entry_is_detected_at_that_entry(field):
    chain = build_chain(6)
    entry = chain[2]
    entry[field] = {"sequence": 99, "record_count": 11, "fields": ["pseudonym", "age"]}.get(
        field, str(entry[field]) + "-edited")

    intact, broken, problem = verify_chain(chain)

    assert (intact, broken) == (False, 3)
    assert problem


def test_an_edited_record_count_is_reported_as_not_matching_its_hash():
    chain = build_chain(5)
    chain[3]["record_count"] = 1

    assert verify_chain(chain) == (False, 4, "its contents do not match its hash")


def test_an_edited_entry_whose_hash_was_recomputed_breaks_the_next_link():
    chain = build_chain(5)
    chain[1]["reason"] = "nobody will notice"
    chain[1]["entry_hash"] = entry_hash(chain[1])

    assert verify_chain(chain) == (False, 3, "does not link to the entry before it")


def test_deleting_an_entry_is_detected_where_it_was():
    chain = build_chain(6)
    del chain[2]

    intact, broken, problem = verify_chain(chain)

    assert (intact, broken) == (False, 3)
    assert "entry 3 is missing" in problem


def test_deleting_the_first_entry_is_detected():
    chain = build_chain(4)[1:]

    assert verify_chain(chain)[:2] == (False, 1)


def test_swapping_two_entries_is_detected_at_the_first_of_them():
    chain = build_chain(6)
    chain[1], chain[4] = chain[4], chain[1]

    assert verify_chain(chain)[:2] == (False, 2)


def test_swapping_two_entries_and_renumbering_them_is_detected():
    chain = build_chain(6)
    chain[2], chain[3] = chain[3], chain[2]
    for seq, entry in enumerate(chain, start=1):
        entry["sequence"] = seq
        entry["entry_hash"] = entry_hash(entry)

    intact, broken, problem = verify_chain(chain)

    assert (intact, broken) == (False, 3)
    assert problem == "does not link to the entry before it"


def test_fields_outside_the_hash_such_as_the_store_key_do_not_affect_it():
    chain = build_chain(3)
    chain[1]["entry_key"] = "another-key"
    chain[1]["_id"] = "mongo-id"

    assert verify_chain(chain) == (True, 0, "")


# -- holdings ----------------------------------------------------------------------

def test_batch_holdings_name_every_unit_level_delivery_of_the_batch_per_bucket(plan):
    unit_purposes = [p for p in plan.purposes if p.form != "aggregate"]
    records = [{"pseudonyms": {p.purpose_id: f"{p.purpose_id}-{i}" for p in plan.purposes},
                "fields": {}} for i in range(200)]
    holdings = domain.batch_holdings("b7", unit_purposes, records)

    anchor = min(p.purpose_id for p in unit_purposes)
    assert {h["anchor"] for h in holdings} == {anchor}
    assert sorted(ps for h in holdings for ps in h["pseudonyms"]) == sorted(
        r["pseudonyms"][anchor] for r in records)
    for h in holdings:
        assert all(domain.holding_bucket(ps) == h["bucket"] for ps in h["pseudonyms"])
        assert h["deliveries"] == [[f"b7:{p.purpose_id}", p.unit_id, p.purpose_id]
                                   for p in sorted(unit_purposes, key=lambda p: p.purpose_id)]
    assert len(holdings) <= domain.HOLDING_BUCKETS < BUCKETS


def test_a_batch_with_no_unit_level_purpose_holds_nothing_findable(plan):
    assert domain.batch_holdings("b1", [], [{"pseudonyms": {"x": "y"}, "fields": {}}]) == []


def test_cells_counted_under_other_groupings_are_refused_not_relabelled(plan):
    """A partial counted by (region, strand) cannot go out under a purpose now
    grouped by strand alone: its values would be paired with the wrong names."""
    purpose = plan.purpose("outcomes-report")
    values = [f"v{i}" for i in range(len(purpose.dimensions))]
    cells = {json.dumps(values): [9, [12] * len(purpose.measures)]}
    assert domain.protect(purpose, cells, SEED)[0]["dimensions"] == dict(
        zip(purpose.dimensions, values))
    narrower = dataclasses.replace(purpose, dimensions=purpose.dimensions[1:])
    with pytest.raises(ValueError):
        domain.protect(narrower, cells, SEED)
