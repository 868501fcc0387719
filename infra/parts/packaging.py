"""How the stack runs `chalice package`: in the deployed stage's environment, in a temporary
working folder, with the Lambda runtime's wheels only (or without requirements, for checks)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.parts.base import CHALICE_CONFIG, ROOT, Names, StackError


class MissingLambdaWheels(StackError):
    def __init__(self, packages: list[str]):
        super().__init__(
            "no wheel for the Lambda runtime (python3.12, glibc 2.34, x86_64) for: "
            + ", ".join(packages)
            + ". Deploying without them breaks whatever imports them: pin versions that ship "
            "such wheels (docs/DEPLOY.md)."
        )
        self.packages = packages


# Installed with a requirement but never imported by the functions: pyvrp requires matplotlib
# for its plotting module only (`import pyvrp` and solving load none of it). 75 MB unzipped.
NOT_DEPLOYED = (
    "matplotlib",
    "contourpy",
    "cycler",
    "fonttools",
    "kiwisolver",
    "pillow",
    "pyparsing",
)


@contextmanager
def app_import_environment(names: Names) -> Iterator[None]:
    """`chalice package` imports app.py here: it must see the deployed stage, not local.

    (Imported as the local stage it would register the /dev routes; the queue its consumer
    subscribes to is named at import.)
    """
    from chalicelib.config import get_settings

    wanted = {
        "FIELDLINE_STAGE": names.stage,
        "FIELDLINE_TABLE": names.table,
        "FIELDLINE_EVENT_BUS": names.bus,
        "FIELDLINE_WORKFLOW_QUEUE": names.workflow_queue,
        "FIELDLINE_OUTBOUND_EVENTS_QUEUE": names.outbound_events_queue,
        "FIELDLINE_DELIVERIES_QUEUE": names.deliveries_queue,
    }
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    get_settings.cache_clear()
    try:
        settings = get_settings()
        if settings.stage != names.stage or settings.workflow_queue_name != names.workflow_queue:
            raise StackError("the app's settings were read before the stage's environment was set")
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def chalice_workdir() -> Iterator[None]:
    """The construct writes its `chalice.out/` under the working directory: use a temporary one.

    Everything in it is read (the SAM template) or copied into the cloud assembly (the code
    zip) while the construct is built.
    """
    previous = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="fieldline-chalice-") as workdir:
        os.chdir(workdir)
        try:
            yield
        finally:
            os.chdir(previous)


@contextmanager
def sources_without_dependencies() -> Iterator[str]:
    """A copy of the app without requirements: the same template, no wheels downloaded.

    For checking the template offline (tests); `make synth` and `cdk deploy` bundle them.
    """
    with tempfile.TemporaryDirectory(prefix="fieldline-app-") as copy:
        target = Path(copy)
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copy2(ROOT / "app.py", target / "app.py")
        shutil.copytree(ROOT / "chalicelib", target / "chalicelib", ignore=ignore)
        (target / ".chalice").mkdir()
        shutil.copy2(CHALICE_CONFIG, target / ".chalice" / "config.json")
        (target / "requirements.txt").write_text("")
        yield str(target)


@contextmanager
def lambda_bundle() -> Iterator[None]:
    """Bundle wheels only, fail when one is missing, and leave out what the app never imports.

    Chalice's fallback compiles sdists of what has no Lambda-compatible wheel (numpy: minutes)
    and then, if that fails too, deploys without the package and only prints a warning: here
    a missing wheel stops the synth. The distributions in NOT_DEPLOYED are removed from the
    bundle (by their RECORD): without that it is over Lambda's 250 MB unzipped limit. Chalice
    keeps the bundle in .chalice/deployments/, keyed by the requirements: after changing
    NOT_DEPLOYED, delete that folder.
    """
    from chalice.deploy import packager

    builder = packager.DependencyBuilder
    original_build = builder._build_sdists
    original_site_packages = builder.build_site_packages

    def no_sdist_builds(self, sdists, directory, compile_c=True):
        return None

    def strict_site_packages(self, abi, requirements_filepath, target_directory):
        try:
            original_site_packages(self, abi, requirements_filepath, target_directory)
        except packager.MissingDependencyError as exc:
            raise MissingLambdaWheels(sorted(p.identifier for p in exc.missing)) from exc
        for distribution in NOT_DEPLOYED:
            _remove_distribution(Path(target_directory), distribution)

    builder._build_sdists = no_sdist_builds
    builder.build_site_packages = strict_site_packages
    try:
        yield
    finally:
        builder._build_sdists = original_build
        builder.build_site_packages = original_site_packages


def _remove_distribution(site_packages: Path, distribution: str) -> None:
    """Delete an installed distribution's files, as `pip uninstall` would (its RECORD)."""
    normalized = distribution.lower().replace("-", "_")
    for dist_info in site_packages.glob("*.dist-info"):
        if dist_info.name.lower().split("-")[0] != normalized:
            continue
        for line in (dist_info / "RECORD").read_text().splitlines():
            path = site_packages / line.split(",")[0]
            path.unlink(missing_ok=True)
        shutil.rmtree(dist_info, ignore_errors=True)
    for folder in sorted(site_packages.rglob("*"), reverse=True):  # what the RECORDs emptied
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
