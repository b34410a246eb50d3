"""The provider's picture of where its records went counts what is current: a
replaced submission's records, superseded at each unit, are counted apart."""

from services.portal.provider import flows_picture
from tiaki.router.v1 import ledger_pb2 as pb


def entry(kind, purpose="evaluation", unit="evaluation", count=0):
    return pb.LedgerEntry(kind=kind, purpose_id=purpose, unit_id=unit, record_count=count)


def test_a_replaced_submission_is_counted_apart_from_what_is_current():
    picture = flows_picture([
        entry(pb.ENTRY_KIND_DELIVERY, count=199), entry(pb.ENTRY_KIND_ACKNOWLEDGEMENT),
        entry(pb.ENTRY_KIND_DELIVERY, count=98), entry(pb.ENTRY_KIND_ACKNOWLEDGEMENT),
        entry(pb.ENTRY_KIND_SUPERSESSION, count=199),
        entry(pb.ENTRY_KIND_DELIVERY, purpose="reporting", unit="service-delivery", count=98),
    ], "ccss")
    rows = {r["purpose"]: r for r in picture["rows"]}
    assert (rows["evaluation"]["records"], rows["evaluation"]["superseded"]) == (98, 199)
    assert (rows["evaluation"]["deliveries"], rows["evaluation"]["acknowledged"]) == (2, 2)
    assert (rows["reporting"]["records"], rows["reporting"]["superseded"]) == (98, 0)
