"""A built wheel works outside the checkout: the configs ship inside the package (ampcap/conf), so
`python -m capture params` and a tiny `capture sweep` run from any folder (what `pip install ampcap`
gives a user). The wheel goes into a fresh venv that borrows this venv's dependencies (not its editable
ampcap), the way .ci/run checks it."""
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

SOURCES = ["ampcap", "capture", "amptrain", "conf", "pyproject.toml", "README.md"]


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    """(python of a fresh venv with only the wheel installed, the wheel's path)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy, so building leaves no build/ or egg-info in the checkout
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(p, src / name)
    run = lambda *a: subprocess.run(list(map(str, a)), capture_output=True, text=True, timeout=300)  # noqa: E731
    p = run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", src)
    assert p.returncode == 0, p.stderr
    wheel = next((tmp / "dist").glob("ampcap-*.whl"))
    p = run(sys.executable, "-m", "venv", "--without-pip", tmp / "venv")
    assert p.returncode == 0, p.stderr
    py = tmp / "venv" / "bin" / "python"
    purelib = Path(run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    # the dependencies from this venv (a plain path entry: its editable-install hook is not run)
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    p = run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--target", purelib, wheel)
    assert p.returncode == 0, p.stderr
    return py, wheel


def test_wheel_holds_the_configs(wheel_venv):
    _, wheel = wheel_venv
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"ampcap/conf/capture.yaml", "ampcap/conf/train.yaml", "ampcap/conf/plugin/refamp.yaml",
            "ampcap/conf/experiment/gain_sweep.yaml", "ampcap/conf/sweep/tiny.yaml"} <= names
    conf = {str(p.relative_to(ROOT)).replace("conf/", "ampcap/conf/", 1) for p in (ROOT / "conf").rglob("*.yaml")}
    assert conf <= names  # every config of the checkout, none left behind
    packages = {n.split("/")[0] for n in names if n.endswith(".py")}
    assert {"ampcap", "capture", "amptrain"} <= packages and "amptrain/sampling/cli.py" in names


def test_installed_wheel_runs_params_and_a_tiny_sweep_outside_the_checkout(wheel_venv, tmp_path):
    py, _ = wheel_venv
    run = lambda *a: subprocess.run([str(py), *map(str, a)], cwd=tmp_path, capture_output=True, text=True, timeout=300)  # noqa: E731
    where = run("-c", "import capture; print(capture.__file__)")
    assert where.returncode == 0 and not where.stdout.strip().startswith(str(ROOT)), where.stdout + where.stderr
    p = run("-m", "capture", "params")
    assert p.returncode == 0, p.stderr
    assert "gain" in p.stdout and "channel" in p.stdout
    p = run("-m", "capture", "sweep", "sweep=tiny", "signal.duration_s=6", "progress=false", "out=ds")
    assert p.returncode == 0, p.stderr
    assert run("-m", "capture", "verify", "ds").returncode == 0
    assert (tmp_path / "ds" / "manifest.json").exists()
