"""The Chalice app: registers blueprints, middleware and event handlers. Nothing else."""

from chalice import Chalice

from chalicelib.api import customers, jobs, meta, settings, technicians
from chalicelib.api.middleware import http_middleware
from chalicelib.config import get_settings

app = Chalice(app_name="fieldline")
app.register_middleware(http_middleware, "http")

for module in (meta, settings, technicians, customers, jobs):
    app.register_blueprint(module.api.blueprint)

if get_settings().is_local:
    # The local stage's helpers (/dev/...) exist in no other stage.
    from chalicelib.api import dev

    app.register_blueprint(dev.api.blueprint)
