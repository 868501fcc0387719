"""Synthesize the Fieldline stack offline: `python infra/synth.py --stage prod` → cdk.out/.

The CDK CLI runs this too (infra/cdk.json), and then chooses the output folder itself
(CDK_OUTDIR). No AWS account is needed to synthesize; `cdk deploy` is what talks to AWS.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", help="a stage of .chalice/config.json (default: context)")
    parser.add_argument("--outdir", default=str(ROOT / "cdk.out"))
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a context value, as `cdk -c` takes it (docs/DEPLOY.md lists them)",
    )
    parser.add_argument(
        "--no-dependencies",
        action="store_true",
        help="package the app without its requirements (the template is the same; for checks)",
    )
    args = parser.parse_args(argv)

    # `chalice package` needs a region; a synthesized template does not depend on it.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # jsii warns at length about the Node version on every run (the value lists major versions).
    for warning in ("UNTESTED", "DEPRECATED", "END_OF_LIFE"):
        os.environ.setdefault(f"JSII_SILENCE_WARNING_{warning}_NODE_VERSION", "18,20,22,24,26")

    import aws_cdk as cdk

    from infra.fieldline_stack import FieldlineStack, StageOptions

    started = time.monotonic()
    # CDK's own check of the template (it runs the SAM transform, which cfn-lint does not):
    # a finding fails the synth instead of scrolling past as a warning.
    context = {"@aws-cdk/core:validateAgainstDefaultRules": True}
    context.update(pair.split("=", 1) for pair in args.context)
    if args.stage:
        context["stage"] = args.stage
    # Under the CDK CLI, CDK_OUTDIR says where; it refuses a different outdir.
    outdir = None if os.environ.get("CDK_OUTDIR") else args.outdir
    app = cdk.App(outdir=outdir, context=context)
    options = StageOptions.from_context(app.node)
    FieldlineStack(
        app,
        f"fieldline-{options.stage}",
        options=options,
        bundle_dependencies=not args.no_dependencies,
        description=f"Fieldline ({options.stage}): API, table, workflows, users, alarms",
    )
    assembly = app.synth()
    elapsed = time.monotonic() - started
    print(f"synthesized fieldline-{options.stage} into {assembly.directory} in {elapsed:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
