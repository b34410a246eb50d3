"""purpose_router: owns the data plans and their co-design, providers'
agreements, routes each accepted batch to the Agency units whose purposes
declare its fields, and keeps the flow ledger.

nameko serves one class per service name (and one gRPC port), so the service
is composed of the entrypoints of its two parts, which share only declared
dependencies (the plan repository above all):
- codesign/: plans' co-design, agreements, the families' letter;
- routing/: plan versions, routing, holdings, aggregates and the ledger;
- plans/: the plan repository both read plan versions from;
- directory/: the names and addresses documents use for providers, the Agency and its units."""

from __future__ import annotations

from services.purpose_router.codesign.entrypoints import CodesignEntrypoints
from services.purpose_router.directory.entrypoints import DirectoryEntrypoints
from services.purpose_router.routing.entrypoints import RoutingEntrypoints
from tiaki.plumbing.health import HealthMixin
from tiaki.plumbing.metrics import Metrics


class PurposeRouterService(RoutingEntrypoints, CodesignEntrypoints, DirectoryEntrypoints,
                           HealthMixin):
    name = "purpose_router"

    metrics = Metrics()
