"""The nightly schedule: start the day's reconciliation run; write recurring series' next visits.

Deployed, an EventBridge schedule (`@app.schedule`) invokes it; locally the stage's clock does.
The run is named after the date, so a second firing the same night starts nothing.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain import clock
from chalicelib.logs import logger
from chalicelib.services import reconciliation, series


def nightly_reconciliation(event: Any = None) -> dict[str, Any]:
    started = reconciliation.start_nightly(clock.now())
    logger.info("nightly reconciliation", extra={"already_running": started.already_existed})
    return {"execution_arn": started.execution_arn, "already_existed": started.already_existed}


def daily_plans(event: Any = None) -> dict[str, Any]:
    """Service plans: bill, charge, retry, announce renewals due by now (plan_billing)."""
    from chalicelib.services import plan_billing

    done = plan_billing.run_due(clock.now())
    logger.info("service plans billed", extra=done)
    return done


def nightly_series(event: Any = None) -> dict[str, Any]:
    written = series.extend_due(clock.now())
    logger.info("series extended", extra={"visits_written": written})
    return {"visits_written": written}
