"""Two requests instances running the escalation timer over one store: a
request's outstanding units are asked again by one of them, not both, and a
unit that became late is escalated (and announced) once."""

from __future__ import annotations

import datetime as dt
import time

import mongoengine
import pytest
from nameko.testing.services import worker_factory

from services.requests import domain
from services.requests.service import QUERY_AGAIN_AFTER, RequestsService
from services.requests.storage import RequestsStorage, StoredRequest
from tiaki.core import messages
from tiaki.core.errors import Conflict
from tiaki.plumbing.store import connect


@pytest.fixture
def two_instances(store_uri):
    connect(store_uri)
    a, b = RequestsStorage(), RequestsStorage()
    a.ensure_indexes()
    yield worker_factory(RequestsService, storage=a), worker_factory(RequestsService, storage=b)
    mongoengine.disconnect()


def open_request(storage: RequestsStorage, received: dt.date, opened_ago: float):
    rules = domain.open_request("access", received, ["evaluation"], purposes={"evaluation": [
        {"purpose_id": "outcomes", "pseudonyms": ["ab12"],
         "delivery_ids": ["b.1:outcomes"]}]})
    doc = storage.create("ccss", "best-foot-forward", "the client", "signed form", rules,
                         "ccss")
    StoredRequest.objects(request_id=doc.request_id).update_one(
        set__opened_at=time.time() - opened_ago)
    return doc.request_id


def queries(service) -> list[str]:
    return [c.args[1]["request_id"] for c in service.unit_queues.deliver.call_args_list]


def test_units_are_asked_again_by_one_instance(two_instances):
    a, b = two_instances
    waiting = open_request(a.storage, dt.date.today(), opened_ago=QUERY_AGAIN_AFTER + 60)
    open_request(a.storage, dt.date.today(), opened_ago=10)  # asked just now: not again

    a.escalate()
    b.escalate()
    a.escalate()

    assert queries(a) + queries(b) == [waiting]


def test_a_late_unit_is_escalated_once(two_instances):
    a, b = two_instances
    long_ago = dt.date.today() - dt.timedelta(days=60)
    late = open_request(a.storage, long_ago, opened_ago=10)
    stale = a.storage.get(late)  # what b read before a escalated it

    a.escalate()
    with pytest.raises(Conflict):  # b's write loses: the request changed
        b.storage.set_escalated(stale, ["evaluation"])
    b.escalate()

    announced = [c.args[1] for s in (a, b) for c in s.events.call_args_list
                 if c.args[0] == messages.UNIT_ESCALATED]
    assert [(e["request_id"], e["unit_id"]) for e in announced] == [(late, "evaluation")]
    doc = a.storage.get(late)
    assert list(doc.escalated) == ["evaluation"]
    assert sum("escalated" in str(h) for h in doc.history) == 1


def test_an_answer_a_dead_instance_left_unassembled_is_assembled_next_round(two_instances,
                                                                              plan):
    a, b = two_instances
    request_id = open_request(a.storage, dt.date.today(), opened_ago=10)
    doc = a.storage.get(request_id)
    rules = domain.record_unit_outcome(doc.rules, "evaluation", "answered", "")
    a.storage.record_answer(doc, rules, "evaluation", [], "evaluation")  # ...and `a` died here
    # The service asks purpose_router for the plan without waiting (call_async), then waits.
    b.purpose_router.get_plan.call_async.return_value.result.return_value = plan.to_dict()

    b.escalate()

    done = b.storage.get(request_id)
    assert done.state == "complete"
    assert "<html" in b.storage.answer_html(done).lower()


def test_two_extensions_decided_on_one_read_store_one(two_instances):
    """A retried or doubled ExtendRequest decided on the same read does not
    write a second extension over the first: the second is told to look again."""
    a, b = two_instances
    request_id = open_request(a.storage, dt.date.today(), opened_ago=10)
    found = a.storage.get(request_id)
    first = domain.extend(found.rules, dt.date.today(), found.rules.due + dt.timedelta(days=20),
                          "a search of archived files")
    second = domain.extend(found.rules, dt.date.today(), found.rules.due + dt.timedelta(days=30),
                           "a consultation")

    a.storage.extend(found, first, "ccss")
    with pytest.raises(Conflict):
        b.storage.extend(found, second, "ccss")

    stored = a.storage.get(request_id)
    assert stored.rules.due == first.due
    assert [s.what for s in stored.history if s.what.startswith("extended")] == [
        f"extended the due date to {first.due.isoformat()}: a search of archived files"]


def test_the_answer_says_what_insights_was_told_even_when_insights_answers_at_once(
        two_instances, plan):
    """insights is asked in a green thread of its own; an answer that came back
    before the assembly looked for it is still in the family's answer (a finished
    green thread is falsy, so testing the thread itself dropped it)."""
    a, b = two_instances
    request_id = open_request(a.storage, dt.date.today(), opened_ago=10)
    doc = a.storage.get(request_id)
    rules = domain.record_unit_outcome(doc.rules, "evaluation", "answered", "")
    held = [{"delivery_id": "b.1:evaluation", "purpose_id": "evaluation", "period": "2026Q2",
             "fields": {"goals_met": "all"}, "statements": []}]
    a.storage.record_answer(doc, rules, "evaluation", held, "evaluation")
    b.purpose_router.get_plan.call_async.return_value.result.return_value = plan.to_dict()
    for call in (b.purpose_router.provenance, b.purpose_router.accesses):
        call.call_async.return_value.result.return_value = []
    b.insights.outcomes_informed_by.return_value = [{
        "kind": "decision", "date": "2026-11-30", "title": "Keep the children's strand",
        "summary": "The strand continues in 2027", "audience": "the Minister",
        "informed_by": [{"delivery_id": "b.1:evaluation"}]}]

    b.escalate()

    html = b.storage.answer_html(b.storage.get(request_id))
    assert "Keep the children&#x27;s strand" in html
    assert b.insights.outcomes_informed_by.call_args.args == ("ccss", ["b.1:evaluation"])
