"""The Chalice app: registers routes, middleware and event handlers. Nothing else.

Each route's module, and each handler's, is imported when it is first called
(chalicelib/api/routing.py): a function's cold start loads only what it runs.
"""

from chalice import Chalice

from chalicelib import snapstart
from chalicelib.api import routing
from chalicelib.api.routing import deferred
from chalicelib.config import get_settings

# Powertools (chalicelib/logs.py) owns the "fieldline" logger: Chalice adding a handler of its
# own to it would print every line twice.
app = Chalice(app_name="fieldline", configure_logs=False)
app.register_middleware(deferred("chalicelib.api.middleware", "http_middleware"), "http")
routing.register(app, local=get_settings().is_local)
# Lambda SnapStart (the API function only): the routes load before the snapshot, randomness
# and connections are made anew after each restore (chalicelib/snapstart.py).
snapstart.register()
if get_settings().is_local:
    # Chalice's local server and chalice.test route unknown paths and methods as API Gateway
    # does (chalice.local exists only where Chalice is installed, not in a deployed function).
    from localstage import gateway as localgateway

    localgateway.install()

# Time-driven work (ARCHITECTURE.md: events); the handlers live in chalicelib/handlers. Each
# is bound to a module-level name equal to its function's, which is how Lambda finds it
# ("app.<name>").
# The stack replaces the stream ARN placeholder and sets ReportBatchItemFailures.
STREAM, CONSUMER = "chalicelib.handlers.stream", "chalicelib.handlers.consumer"
SCHEDULE, TASKS = "chalicelib.handlers.schedule", "chalicelib.handlers.tasks"
OPTIMIZER = "chalicelib.handlers.optimizer"
DELIVERIES = "chalicelib.handlers.deliveries"  # outbound webhooks: fan-out, then ordered lanes
# 07:00 UTC: after midnight across the US, before anyone opens the report.
NIGHTLY = "cron(0 7 * * ? *)"

forward_timeline = app.on_dynamodb_record(
    stream_arn=get_settings().table_stream_arn, batch_size=100, starting_position="TRIM_HORIZON"
)(deferred(STREAM, "forward_timeline"))
workflow_events = app.on_sqs_message(queue=get_settings().workflow_queue_name, batch_size=10)(
    deferred(CONSUMER, "workflow_events")
)
outbound_events = app.on_sqs_message(
    queue=get_settings().outbound_events_queue_name, batch_size=10
)(deferred(DELIVERIES, "outbound_events"))
# One lane a call: a lane's drain may take most of the function's timeout (services/deliveries).
outbound_deliveries = app.on_sqs_message(queue=get_settings().deliveries_queue_name, batch_size=1)(
    deferred(DELIVERIES, "outbound_deliveries")
)
nightly_reconciliation = app.schedule(NIGHTLY, name="nightly_reconciliation")(
    deferred(SCHEDULE, "nightly_reconciliation")
)
nightly_series = app.schedule(NIGHTLY, name="nightly_series")(deferred(SCHEDULE, "nightly_series"))
daily_plans = app.schedule(NIGHTLY, name="daily_plans")(deferred(SCHEDULE, "daily_plans"))
plan_reminder = app.lambda_function(name="plan_reminder")(deferred(TASKS, "plan_reminder"))
send_reminder = app.lambda_function(name="send_reminder")(deferred(TASKS, "send_reminder"))
plan_dunning = app.lambda_function(name="plan_dunning")(deferred(TASKS, "plan_dunning"))
dunning_step = app.lambda_function(name="dunning_step")(deferred(TASKS, "dunning_step"))
plan_reconciliation = app.lambda_function(name="plan_reconciliation")(
    deferred(TASKS, "plan_reconciliation")
)
reconcile_page = app.lambda_function(name="reconcile_page")(deferred(TASKS, "reconcile_page"))
record_workflow_failure = app.lambda_function(name="record_workflow_failure")(
    deferred(TASKS, "record_workflow_failure")
)
# Invoked asynchronously by POST /dispatch/optimize: the solve runs longer than a request may.
optimize_day = app.lambda_function(name="optimize_day")(deferred(OPTIMIZER, "optimize_day"))
