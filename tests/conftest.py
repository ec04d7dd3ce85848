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


@pytest.fixture
def capture_cli():
    return lambda *a, **k: run_cli("capture", *a, **k)
