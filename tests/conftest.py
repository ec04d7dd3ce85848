"""Shared test helpers: run a command as a user would (`run_cli`, a subprocess) or in this process
(`run_main`, the same entry point with argv, stdout/stderr and the exit code captured), and the
session's shared inputs: one small dataset, one tiny model, one trained run. Fixtures of session scope
are made once per test process (each xdist worker makes its own); tests that change them work on a copy."""
import os
import runpy
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
def run_main(capfd, monkeypatch):
    """`run_main(module, *args, cwd=..., env=...)`: `python -m <module> args` run in this process, the way
    the interpreter runs it (the package's __main__ with sys.argv), its stdout and stderr captured at the
    file descriptors (plugin processes included); returns a CompletedProcess like `run_cli`. No new
    interpreter, no imports again: for the many rows of the bad-input tests. A few tests keep `run_cli`
    for the real entry points (exit status, one line, no traceback from a fresh interpreter)."""

    def run(module: str, *args, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
        argv = [str(a) for a in args]
        with monkeypatch.context() as m:
            m.chdir(cwd)
            m.setattr(sys, "argv", [f"{sys.executable} -m {module}", *argv])
            m.delenv("AMPCAP_DEBUG", raising=False)
            for k, v in (env or {}).items():
                m.setenv(k, v)
            capfd.readouterr()
            try:
                runpy.run_module(module, run_name="__main__")
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            out, err = capfd.readouterr()
        return subprocess.CompletedProcess([sys.executable, "-m", module, *argv], code, out, err)

    return run


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    """One small capture (SMALL: the embedded amp, sweep=tiny: 4 training settings + 2 held-out, 6 s of
    DI) for every test that reads one. Never change it: copy it (shutil.copytree) first."""
    out = tmp_path_factory.mktemp("ds") / "small"
    p = run_cli("capture", "sweep", *SMALL, f"out={out}")
    assert p.returncode == 0, p.stderr
    return out


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A model.keras file of `tests.models.make_net(hidden=4)` (untrained; knobs gain 0..10 and channel
    clean | lead, bass fixed at 5 in its training data)."""
    from tests.models import make_net

    path = tmp_path_factory.mktemp("model") / "model.keras"
    make_net(hidden=4).save(path)
    return path


@pytest.fixture(scope="session")
def trained_run(small_dataset, tmp_path_factory) -> Path:
    """A finished training run directory: one epoch of LSTM 8 (trainer=quick) on small_dataset."""
    run = tmp_path_factory.mktemp("runs") / "small"
    p = run_cli("amptrain", "trainer=quick", "trainer.progress=false", "model=lstm8", "trainer.max_epochs=1",
                "trainer.renders=0", "dataset=path", f"dataset.path={small_dataset}", f"run_dir={run}", timeout=600)
    assert p.returncode == 0, p.stderr
    assert (run / "model.keras").is_file()
    return run


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
