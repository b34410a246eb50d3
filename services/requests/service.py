"""requests: access and correction requests brokered for families.

This service is up in every deployment (health, metrics, its own database) so
the topology is the real one from day one; the request protocol itself
(fan-out to holding units, NZ working-day deadlines, the family's answer) is
issue 3 and is not built yet."""

from tiaki.health import HealthMixin
from tiaki.metrics import Metrics


class RequestsService(HealthMixin):
    name = "requests"

    metrics = Metrics()
