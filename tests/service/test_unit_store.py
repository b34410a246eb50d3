"""The unit SDK's store on the real store: a delivery's records are kept in
pseudonym buckets, saved once, and a family's request reads back exactly the
person's records."""

from __future__ import annotations

from tiaki.core.records import BUCKETS, bucket
from tiaki.unit.store import DELIVERY_BUCKETS, UnitStore, _pack


def delivery(delivery_id: str, pseudonyms: list[str]) -> dict:
    return {"delivery_id": delivery_id, "kind": "records", "provider_id": "ccss",
            "programme_id": "best-foot-forward", "submission_id": "sub-1", "period": "2026Q3",
            "purpose_id": "evaluation", "fields": ["region"], "record_count": len(pseudonyms),
            "content_hash": "h",
            "records": [{"pseudonym": p, "region": f"region {i}"} for i, p in enumerate(pseudonyms)]}


def test_a_delivery_is_stored_once_and_read_back_whole(store_uri):
    store = UnitStore(store_uri)
    body = delivery("b1:evaluation", ["a1", "f2", "a3", "0x"])
    assert store.save(body) is True
    assert store.save(body) is False  # a redelivery
    assert sorted(r["pseudonym"] for r in store.content("b1:evaluation")) == ["0x", "a1", "a3", "f2"]
    assert store.record_count() == 4


def test_held_about_is_exactly_the_persons_records(store_uri):
    store = UnitStore(store_uri)
    store.save(delivery("b1:evaluation", ["a1", "a2", "a1", "f1"]))
    store.save(delivery("b2:evaluation", ["a2", "a1"]))
    store.save(delivery("b3:evaluation", ["a1"]))  # not named by the request
    held = store.held_about(["b1:evaluation", "b2:evaluation", "unknown"], ["a1"])
    assert sorted((doc["_id"], record["region"]) for doc, record, _ in held) == [
        ("b1:evaluation", "region 0"), ("b1:evaluation", "region 2"),
        ("b2:evaluation", "region 1")]


def test_a_save_interrupted_after_the_buckets_is_completed_by_the_redelivery(store_uri):
    store = UnitStore(store_uri)
    body = delivery("b1:evaluation", ["a1", "f2"])
    first = body["records"][0]
    store._save_buckets([{"_id": f"b1:evaluation:{bucket(first['pseudonym'], DELIVERY_BUCKETS)}",
                          "delivery_id": "b1:evaluation", "period": "2026Q3",
                          "rows": _pack([first])}])
    assert store.content("b1:evaluation") is None  # not stored until the delivery is
    assert store.save(body) is True
    assert sorted(r["pseudonym"] for r in store.content("b1:evaluation")) == ["a1", "f2"]


def test_a_superseded_delivery_is_kept_but_no_longer_given(store_uri):
    store = UnitStore(store_uri)
    store.save(delivery("b1:evaluation", ["a1"]))
    store.save(dict(delivery("b2:evaluation", ["a1"]), submission_id="sub-2"))
    assert store.supersede(["b1:evaluation", "unknown"], "sub-2") == 1
    assert store.supersede(["b1:evaluation"], "sub-2") == 1  # told again: the same
    held = store.held_about(["b1:evaluation", "b2:evaluation"], ["a1"])
    assert [doc["_id"] for doc, _, _ in held] == ["b2:evaluation"]
    assert store.content("b1:evaluation")[0]["pseudonym"] == "a1"  # kept as received
    assert store.deliveries.find_one({"_id": "b1:evaluation"})["superseded_by"] == "sub-2"


def test_a_delivery_stored_in_the_older_64_buckets_is_still_read_and_given(store_uri):
    """Deliveries stored before the bucket count was kept on them (64 buckets)
    are read whole and found for a family's request beside newer ones."""
    store = UnitStore(store_uri)
    people = [f"p{i}" for i in range(40)]  # enough that 64 and 16 buckets part ways
    assert any(bucket(p) != bucket(p, DELIVERY_BUCKETS) for p in people)
    old = delivery("b0:evaluation", people)
    in_buckets: dict[str, list] = {}
    for r in old["records"]:
        in_buckets.setdefault(bucket(r["pseudonym"]), []).append(r)
    store._save_buckets([{"_id": f"b0:evaluation:{b}", "delivery_id": "b0:evaluation",
                          "period": "2026Q3", "rows": _pack(rows)}
                         for b, rows in in_buckets.items()])
    store.deliveries.insert_one({"_id": "b0:evaluation", "kind": "records", "period": "2026Q3",
                                 "record_count": len(people), "acknowledged": True})
    store.save(delivery("b1:evaluation", people))
    assert store.deliveries.find_one({"_id": "b1:evaluation"})["buckets"] == DELIVERY_BUCKETS
    assert BUCKETS != DELIVERY_BUCKETS
    assert sorted(r["pseudonym"] for r in store.content("b0:evaluation")) == sorted(people)
    for person in people:
        held = store.held_about(["b0:evaluation", "b1:evaluation"], [person])
        assert sorted(doc["_id"] for doc, _, _ in held) == ["b0:evaluation", "b1:evaluation"]
