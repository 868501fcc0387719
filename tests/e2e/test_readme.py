"""The README's lead-to-paid walk, run exactly as written against the local stage."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"


def _block_after(heading: str) -> str:
    text = README.read_text()
    section = text[text.index(heading) :]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


@pytest.mark.skipif(not shutil.which("jq"), reason="the README's commands use jq")
def test_the_readme_takes_a_job_from_lead_to_paid(stage):
    script = _block_after("## Lead to paid in two minutes")
    env = {
        **os.environ,
        "API": stage.base,
        "STRIPE": f"http://127.0.0.1:{stage.stripe_port}",
    }
    result = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "is on the way, arriving in about" in out
    assert '"stage": "paid"' in out and '"balance_cents": 0' in out
    story = [line for line in out.splitlines() if re.fullmatch(r"[A-Z][A-Za-z]+", line)]
    milestones = [
        "LeadCreated",
        "QuoteSent",
        "QuoteApproved",
        "VisitScheduled",
        "TechnicianEnRoute",
        "TechnicianOnSite",
        "VisitCompleted",
        "InvoiceSent",
        "PaymentSucceeded",
        "InvoicePaid",
    ]
    positions = [story.index(name) for name in milestones]
    assert positions == sorted(positions), story
    assert story[-1] == "JobStageChanged"


@pytest.mark.skipif(not shutil.which("jq"), reason="the README's commands use jq")
def test_the_readmes_dispatch_plans_a_day_in_the_background_and_books_it(stage):
    script = _block_after("## Dispatch")
    env = {**os.environ, "API": stage.base}
    result = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    # The proposal came back done, with every visit placed
    (outcome,) = [line for line in lines if "status" in line]
    assert outcome == {"status": "done", "reason": None, "unassigned": []}
    # Booking it assigned the three visits, and the board shows the gas job with the gas fitter
    assert [s["action"] for s in lines if "action" in s] == ["assign"] * 3
    board = {line["name"]: line["visits"] for line in lines[-2:]}
    assert "Boiler service" in [v["title"] for v in board["Gail Ortiz"]]
    assert sum(len(visits) for visits in board.values()) == 3


@pytest.mark.skipif(not shutil.which("jq"), reason="the README's commands use jq")
def test_the_readmes_price_book_prices_a_quote_hides_costs_and_round_trips_a_csv(stage, tmp_path):
    script = _block_after("## The price book")
    env = {**os.environ, "API": stage.base}
    result = subprocess.run(
        ["bash", "-e", "-c", script],
        env=env,
        cwd=tmp_path,  # where the export is written and edited
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    search, by_kind, quote, as_tech, dry_run, imported, archived = map(
        json.loads, result.stdout.splitlines()
    )
    assert search == [{"name": "Drain cleaning", "unit_price_cents": 18900, "margin_cents": 14400}]
    assert by_kind == ["PEX pipe (ft)"]
    assert quote["margin_cents"] == 14400 + 12 * (125 - 40)
    assert [line["unit_price_cents"] for line in quote["lines"]] == [18900, 125]
    assert as_tech["unit_cost_cents"] is None
    assert dry_run == {"valid": 3, "errors": [], "created": 1, "updated": 1, "unchanged": 1}
    assert imported == {"created": 1, "updated": 1, "unchanged": 1}
    assert archived == {"name": "PEX pipe (ft)", "archived": True}


@pytest.mark.skipif(not shutil.which("jq"), reason="the README's commands use jq")
def test_the_readmes_receiver_gets_a_signed_event_and_a_replay(stage, tmp_path):
    from localstage import emulators

    section = README.read_text()[README.read_text().index("## Subscribing to events") :]
    receiver = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "receiver.py").write_text(receiver)
    env = {**os.environ, "API": stage.base, "HOOK_PORT": str(emulators.free_port())}
    result = subprocess.run(
        ["bash", "-c", _block_after("## Subscribing to events")],
        env=env,
        cwd=tmp_path,  # where receiver.py is
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # The receiver verified the signature of lead.created, which was delivered at the first try
    assert "True lead.created" in out.splitlines()
    assert '"type":"lead.created","status":"delivered","attempts":1' in out
    assert '"replay_of":' in out and '"unsafe_webhook_url"' in out
