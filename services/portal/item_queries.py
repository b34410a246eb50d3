"""Providers' queries on agreement items as the portal shows them: each row
with the page where the Agency answers it (the key the services' notices use)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from services.portal.names import org_names
from services.portal.web import Visit
from tiaki.core.clock import NZ
from tiaki.router.v1 import agreement_pb2 as apb

QUERY = "/agency/queries/{subject}"


def when(stamp) -> str:
    """A timestamp as a New Zealand date and time ("" when unset)."""
    if not stamp.seconds:
        return ""
    return stamp.ToDatetime(dt.timezone.utc).astimezone(NZ).strftime("%d %b %Y %H:%M")


def query_subject(q) -> str:
    """A query's key as the services' notices name it: PROVIDER|PROGRAMME@VERSION|ITEM."""
    return f"{q.provider_id}|{q.programme_id}@{q.plan_version}|{q.item_name}"


def query_link(q) -> str:
    return QUERY.format(subject=quote(query_subject(q), safe=""))


def query_row(q: apb.ItemQuery) -> dict:
    return {"provider": q.provider_id, "programme": q.programme_id, "version": q.plan_version,
            "item": q.item_name, "question": q.note, "asked_by": q.asked_by or q.person,
            "asked_at": when(q.asked_at), "answer": q.answer,
            "answered_by": q.answered_by_person or q.answered_by,
            "answered_at": when(q.answered_at), "link": query_link(q)}


def item_queries(visit: Visit, programme: str, provider: str = "") -> list[dict]:
    """The queries on items of `programme`, waiting ones first (as the caller may see them)."""
    return [query_row(q) for q in visit.call("agreement").ListItemQueries(
        apb.ListItemQueriesRequest(programme_id=programme, provider_id=provider,
                                   include_answered=True)).queries]


def agency_queries(visit: Visit, programme: str, provider: str = "") -> list[dict]:
    """item_queries with each provider's name (`provider_name`), as the Agency's pages show them."""
    names = org_names(visit)
    return [dict(q, provider_name=names.provider(q["provider"]))
            for q in item_queries(visit, programme, provider)]
