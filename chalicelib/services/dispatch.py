"""Dispatch: the day board, a technician's day, and planning a day with the route optimiser.

The API's entry point; the work is in dispatch_board (reading a day), proposals (a stored
plan: started, read, applied), planning (the optimizer's invocation) and routing_problem (a
day as a routing problem, and the answer read back).
"""

from __future__ import annotations

from chalicelib.services.dispatch_board import board, my_day
from chalicelib.services.planning import run_optimization
from chalicelib.services.proposals import (
    ASYNC_APPLY_STEPS,
    DEFAULT_TIME_LIMIT_SECONDS,
    MAX_TIME_LIMIT_SECONDS,
    SOLVE_OVERHEAD,
    SOLVE_PASSES,
    TIMED_OUT_REASON,
    Deferred,
    apply,
    get_proposal,
    optimize,
    replan,
    run_apply,
)

__all__ = [
    "ASYNC_APPLY_STEPS",
    "DEFAULT_TIME_LIMIT_SECONDS",
    "MAX_TIME_LIMIT_SECONDS",
    "SOLVE_OVERHEAD",
    "SOLVE_PASSES",
    "TIMED_OUT_REASON",
    "Deferred",
    "apply",
    "board",
    "get_proposal",
    "my_day",
    "optimize",
    "replan",
    "run_apply",
    "run_optimization",
]
