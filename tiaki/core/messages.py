"""Every message that crosses the broker, named and shaped in one place.

Events (nameko) go from intake to purpose_router; deliveries go from
purpose_router to each Agency unit's own durable queue on a topic exchange
(declared in tiaki/connect/queues.py, published by tiaki/plumbing/broker.py).
"""

# nameko events dispatched by intake
INTAKE = "intake"
RECORDS_ACCEPTED = "records_accepted"
# payload: {submission_id, provider_id, programme_id, plan_version, period,
#           agreement_version (0: none needed), notice_version (the families' notice
#           in force for the period; 0 on events from before notices were versioned),
#           batch_id, records: [{pseudonyms: {purpose_id: str},
#                                slk581?: str, fields: {name: value}}]}
SUBMISSION_SEALED = "submission_sealed"
# payload: {submission_id, provider_id, programme_id, plan_version, period,
#           agreement_version, notice_version, batch_ids: [str], accepted_count}

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

# the Agency units' queues: each unit's own, on one topic exchange
UNITS_EXCHANGE = "tiaki.units"
UNIT_QUEUE_PREFIX = "tiaki.unit."


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


def unit_queue_name(unit_id: str) -> str:
    return f"{UNIT_QUEUE_PREFIX}{unit_id}"

# A delivery message body (kind "records" or "aggregate"):
# {delivery_id, kind: "records" | "aggregate", provider_id, programme_id,
#  plan_version, agreement_version, notice_version, basis (IPP 3A, one of
#  tiaki.core.ledger.IPP3A_BASES), submission_id, period, purpose_id, unit_id,
#  fields: [str], record_count, content_hash, records: [...] | cells: [...]}
