import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Small, fast capture used by CLI tests: 6 settings of 6 s.
SMALL = ["sweep=tiny", "signal.duration_s=6", "progress=false"]


def run_cli(module: str, *args, cwd=ROOT, timeout=300, env=None):
    """Run `python -m <module> args` as a user would; returns CompletedProcess with text output."""
    e = {**os.environ, **(env or {})}
    e.pop("AMPCAP_DEBUG", None)
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=e)


def error_lines(proc) -> list[str]:
    """Non-empty stderr lines (progress bars excluded)."""
    return [l for l in proc.stderr.splitlines() if l.strip() and "%|" not in l]


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    """A small capture (SMALL) for the training tests of one module."""
    out = tmp_path_factory.mktemp("ds") / "small"
    p = run_cli("capture", "sweep", *SMALL, f"out={out}")
    assert p.returncode == 0, p.stderr
    return out


@pytest.fixture
def capture_cli():
    return lambda *a, **k: run_cli("capture", *a, **k)


REFAMP_BUILD = ROOT / "tests" / "fixtures" / "refamp" / "build.sh"


@pytest.fixture(scope="session")
def refamp() -> Path:
    """The RefAmp VST3 bundle, built (or reused) by tests/fixtures/refamp/build.sh. In CI (CI=true)
    a failed build fails the tests that need it; elsewhere they are skipped with the reason."""
    p = subprocess.run(["bash", str(REFAMP_BUILD)], capture_output=True, text=True, timeout=1200)
    bundle = Path(p.stdout.strip().splitlines()[-1]) if p.returncode == 0 and p.stdout.strip() else None
    if bundle is None or not bundle.is_dir():
        why = f"RefAmp.vst3 could not be built: {' '.join(p.stderr.split())[-400:]}"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return bundle
