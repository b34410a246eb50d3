"""insights: the outcomes of information use, flowing back to providers.

This service is up in every deployment (health, metrics) so the topology is
the real one from day one; outcomes, evaluation measures and the right of
reply are issue 5 and are not built yet."""

from tiaki.health import HealthMixin
from tiaki.metrics import Metrics


class InsightsService(HealthMixin):
    name = "insights"

    metrics = Metrics()
