"""The stack's parts, each a construct the stack composes (infra/fieldline_stack.py).

(Not `infra/constructs/`: `python infra/synth.py` puts infra/ first on the path, where that name
would hide the `constructs` library.)

- base.py: stage options, physical names, and what every part uses (the dead-letter queue, ids).
- data.py: the table, the integrations secret, the photo bucket, Cognito, the route calculator.
- messaging.py: the event bus and its rules, the workflow queue.
- workflows.py: the state machines and EventBridge Scheduler's deferred starts.
- api.py: the Chalice app (REST API and functions), its wiring, its role and API Gateway's limits;
  packaging.py: how `chalice package` is run for it.
- observability.py: the alerts topic, the function log group, the alarms.
"""
