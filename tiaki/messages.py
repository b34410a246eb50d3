"""Every message that crosses the broker, declared in one place.

Events (nameko) go from intake to purpose_router; deliveries (kombu) go from
purpose_router to each Agency unit's own durable queue on a topic exchange.
"""

import json

from kombu import Exchange, Queue
from kombu.serialization import register

# Every payload here is plain JSON (str, int, bool, lists, dicts), so the
# standard library's codec serves: it is about twice as fast as kombu's own,
# which spends its time on types we never send (make bench: ~15 us/record).
register("json", lambda obj: json.dumps(obj, separators=(",", ":"), ensure_ascii=False),
         json.loads, content_type="application/json", content_encoding="utf-8")

# nameko events dispatched by intake
INTAKE = "intake"
RECORDS_ACCEPTED = "records_accepted"
# payload: {submission_id, provider_id, programme_id, plan_version, period,
#           batch_id, records: [{pseudonyms: {purpose_id: str},
#                                slk581?: str, fields: {name: value}}]}
SUBMISSION_SEALED = "submission_sealed"
# payload: {submission_id, provider_id, programme_id, plan_version, period,
#           batch_ids: [str], accepted_count}

# the Agency units' queues
UNITS_EXCHANGE = Exchange("tiaki.units", type="topic", durable=True)


def unit_routing_key(unit_id: str) -> str:
    return f"unit.{unit_id}"


def unit_queue(unit_id: str) -> Queue:
    """One durable queue per unit; only that unit consumes it."""
    return Queue(
        f"tiaki.unit.{unit_id}",
        exchange=UNITS_EXCHANGE,
        routing_key=unit_routing_key(unit_id),
        durable=True,
    )

# A delivery message body:
# {delivery_id, kind: "records" | "aggregate", provider_id, programme_id,
#  plan_version, submission_id, period, purpose_id, unit_id, fields: [str],
#  record_count, content_hash, records: [...] | cells: [...]}
