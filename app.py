"""The Chalice app: registers blueprints, middleware and event handlers. Nothing else."""

from chalice import Chalice

from chalicelib.api import (
    customers,
    dispatch,
    dunning,
    invoices,
    jobs,
    messages,
    meta,
    pages,
    photos,
    quotes,
    reports,
    settings,
    technicians,
    templates,
    twilio_webhooks,
    visits,
    webhooks,
)
from chalicelib.api.middleware import http_middleware
from chalicelib.config import get_settings
from chalicelib.handlers import consumer, schedule, stream, tasks

app = Chalice(app_name="fieldline")
app.register_middleware(http_middleware, "http")

BLUEPRINTS = (
    meta,
    settings,
    templates,
    technicians,
    customers,
    jobs,
    quotes,
    visits,
    dispatch,
    photos,
    invoices,
    webhooks,
    twilio_webhooks,
    messages,
    dunning,
    reports,
    pages,
)
for module in BLUEPRINTS:
    app.register_blueprint(module.api.blueprint)

if get_settings().is_local:
    # The local stage's helpers (/dev/...) exist in no other stage.
    from chalicelib.api import dev, devclock, devstripe

    app.register_blueprint(dev.api.blueprint)
    app.register_blueprint(devclock.api.blueprint)
    app.register_blueprint(devstripe.api.blueprint)

# Time-driven work (DESIGN §4); the handlers live in chalicelib/handlers. Each is bound to a
# module-level name equal to its function's, which is how Lambda finds it ("app.<name>").
# The stack replaces the stream ARN placeholder and sets ReportBatchItemFailures.
forward_timeline = app.on_dynamodb_record(
    stream_arn=get_settings().table_stream_arn, batch_size=100, starting_position="TRIM_HORIZON"
)(stream.forward_timeline)
workflow_events = app.on_sqs_message(queue=get_settings().workflow_queue_name, batch_size=10)(
    consumer.workflow_events
)
nightly_reconciliation = app.schedule(schedule.NIGHTLY, name="nightly_reconciliation")(
    schedule.nightly_reconciliation
)
plan_reminder = app.lambda_function(name="plan_reminder")(tasks.plan_reminder)
send_reminder = app.lambda_function(name="send_reminder")(tasks.send_reminder)
plan_dunning = app.lambda_function(name="plan_dunning")(tasks.plan_dunning)
dunning_step = app.lambda_function(name="dunning_step")(tasks.dunning_step)
plan_reconciliation = app.lambda_function(name="plan_reconciliation")(tasks.plan_reconciliation)
reconcile_page = app.lambda_function(name="reconcile_page")(tasks.reconcile_page)
