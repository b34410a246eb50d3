"""Every message that crosses the broker, declared in one place.

Events (nameko) go from intake to purpose_router; deliveries (kombu) go from
purpose_router to each Agency unit's own durable queue on a topic exchange.
"""

import json

from kombu import Connection, Exchange, Queue
from kombu.serialization import register
from nameko import config
from nameko.amqp.publish import Publisher
from nameko.events import EventDispatcher
from nameko.extensions import DependencyProvider
from nameko.messaging import encode_to_headers

from tiaki import dead_letter

# Every payload here is plain JSON (str, int, bool, lists, dicts), so the
# standard library's codec serves: it is about twice as fast as kombu's own,
# which spends its time on types we never send (make bench: ~15 us/record).
register("json", lambda obj: json.dumps(obj, separators=(",", ":"), ensure_ascii=False),
         json.loads, content_type="application/json", content_encoding="utf-8")

# nameko events dispatched by intake
INTAKE = "intake"
RECORDS_ACCEPTED = "records_accepted"
# payload: {submission_id, provider_id, programme_id, plan_version, period,
#           agreement_version (0: none needed), batch_id, records: [{pseudonyms: {purpose_id: str},
#                                slk581?: str, fields: {name: value}}]}
SUBMISSION_SEALED = "submission_sealed"
# payload: {submission_id, provider_id, programme_id, plan_version, period,
#           agreement_version, batch_ids: [str], accepted_count}

STORY_WITHDRAWN = "story_withdrawn"
# payload: {story_id, provider_id, use, export_ids: [str], references: [str], withdrawn_at}
# (a family withdrew consent to a use of a story the Agency already received)

# nameko events dispatched by requests
REQUESTS = "requests"
UNIT_ESCALATED = "unit_escalated"      # {request_id, unit_id, programme_id}
REQUEST_TRANSFERRED = "request_transferred"  # {request_id, provider_id, agency}

# nameko events dispatched by insights, one per provider an outcome reached,
# carrying only that provider's view (its own citations, its own review):
# {provider_id, outcome: {outcome_id, outcome_ref, unit_id, kind, title, summary,
#  date, audience, state, version, informed_by: [{delivery_id, provider_id,
#  programme_id, submission_id, purpose_id, purpose_name}], measure_ids,
#  reviews: [{provider_id, shared_on, respond_by, responses}], recorded_at,
#  published_at}}. Redelivery is normal: subscribers key on (outcome_id, version).
INSIGHTS = "insights"
OUTCOME_RECORDED = "outcome_recorded"  # new: a decision, advice, report, change, draft finding
OUTCOME_CHANGED = "outcome_changed"    # a provider replied to a draft finding, or it was published

# the Agency units' queues
UNITS_EXCHANGE = Exchange("tiaki.units", type="topic", durable=True)


def is_text(value, empty_ok: bool = False) -> bool:
    """A message field that can be stored as text: a non-empty string (or an
    empty one, with empty_ok) with no lone surrogate, which JSON lets through."""
    if not isinstance(value, str) or not (value or empty_ok):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unit_routing_key(unit_id: str) -> str:
    return f"unit.{unit_id}"


def unit_queue(unit_id: str) -> Queue:
    """One durable (quorum) queue per unit; only that unit consumes it. What it
    cannot take is parked in `tiaki.unit.<unit>.dlq` (tiaki/dead_letter.py)."""
    return dead_letter.parking_queue(f"tiaki.unit.{unit_id}", UNITS_EXCHANGE,
                                     unit_routing_key(unit_id))

# A delivery message body (kind "records" or "aggregate"):
# {delivery_id, kind: "records" | "aggregate", provider_id, programme_id,
#  plan_version, submission_id, period, purpose_id, unit_id, fields: [str],
#  record_count, content_hash, records: [...] | cells: [...]}


class JsonEventDispatcher(EventDispatcher):
    """nameko's event dispatcher that also takes an event already encoded as
    JSON text, so intake encodes a batch once for both its outbox and the
    broker (a 2,000-record batch costs ~9 ms to encode)."""

    def get_dependency(self, worker_ctx):
        dispatch_object = super().get_dependency(worker_ctx)

        def dispatch(event_type, event_data):
            if not isinstance(event_data, str):
                return dispatch_object(event_type, event_data)
            self.publisher.publish(
                event_data, exchange=self.exchange, routing_key=event_type,
                extra_headers=encode_to_headers(worker_ctx.context_data),
                serializer=None, content_type="application/json", content_encoding="utf-8")

        return dispatch


class UnitQueues(DependencyProvider):
    """Publishes deliveries to units' durable queues, persistent, with
    publisher confirms; `mandatory` so a missing queue is an error, not a loss."""

    def setup(self):
        self.amqp_uri = config["AMQP_URI"]
        self.publisher = Publisher(self.amqp_uri, use_confirms=True, mandatory=True,
                                   exchange=UNITS_EXCHANGE)
        self.declared: set[str] = set()

    def get_dependency(self, worker_ctx):
        return self

    def declare(self, unit_id: str):
        if unit_id not in self.declared:
            with Connection(self.amqp_uri) as conn:
                dead_letter.declare(conn, unit_queue(unit_id))
            self.declared.add(unit_id)

    def deliver(self, unit_id: str, body: dict):
        self.declare(unit_id)
        self.publisher.publish(body, routing_key=unit_routing_key(unit_id))
