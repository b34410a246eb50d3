"""Plan versions: the one repository every part of purpose_router reads them from."""

from services.purpose_router.plans.repository import (
    AGREED_MARK,
    PlanRepository,
    PlanVersion,
    StoredPlan,
)

__all__ = ["AGREED_MARK", "PlanRepository", "PlanVersion", "StoredPlan"]
