"""Disk full and read-only output: one line that says what to do, exit code 4, nothing corrupted,
and (disk full) a rerun after freeing space resumes to the same dataset. Uses small tmpfs mounts, so
it needs root (as on CI); elsewhere it is skipped with the reason."""
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ampcap.dataset import read_manifest, verify
from tests.conftest import SMALL, error_lines, run_cli


@pytest.fixture
def mount(tmp_path):
    """mount(name, size, readonly=False) -> a fresh tmpfs directory; unmounted afterwards."""
    mounted = []

    def make(name: str, size: str, readonly: bool = False) -> Path:
        d = tmp_path / name
        d.mkdir()
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}" + (",ro" if readonly else ""), "tmpfs", str(d)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {p.stderr.strip()}")
        mounted.append(d)
        return d

    yield make
    for d in reversed(mounted):
        subprocess.run(["umount", "-l", str(d)], capture_output=True)


def remount(d: Path, opts: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{opts}", str(d)], check=True)


def one_error(p, code: int, *needles: str) -> str:
    lines = error_lines(p)
    assert p.returncode == code, p.stderr
    assert "Traceback" not in p.stderr
    assert lines and lines[-1].startswith("error: "), lines
    assert all(n in lines[-1] for n in needles), lines[-1]
    return lines[-1]


def test_capture_on_a_full_disk_stops_cleanly_and_resumes_after_space_is_freed(mount, tmp_path):
    ref = tmp_path / "ref"
    assert run_cli("capture", "sweep", *SMALL, f"out={ref}").returncode == 0
    disk = mount("small", "3m")  # room for input.wav and one setting (1.15 MB each), not six
    out = disk / "ds"
    p = run_cli("capture", "sweep", *SMALL, f"out={out}")
    line = one_error(p, 4, "disk full (No space left on device)", "rerun the same command")
    assert len(error_lines(p)) == 1, p.stderr
    assert str(out) in line
    m = read_manifest(out)           # the manifest is whole (the last good one), not cut off
    assert not m["complete"]
    assert not list(out.rglob("*.tmp"))
    from ampcap.files import sha256_of

    for s in m["settings"]:          # what it says is captured really is, byte for byte
        if s["status"] == "done":
            assert sha256_of(out / s["file"]) == s["sha256"]
    remount(disk, "size=20m")
    p = run_cli("capture", "sweep", *SMALL, f"out={out}")
    assert p.returncode == 0, p.stderr
    assert verify(out) == []
    got = [(s["index"], s["sha256"]) for s in read_manifest(out)["settings"]]
    assert got == [(s["index"], s["sha256"]) for s in read_manifest(ref)["settings"]]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from tests.test_sampling import make_net

    d = tmp_path_factory.mktemp("model")
    make_net(hidden=4).save(d / "model.keras")
    sf.write(d / "di.wav", (0.3 * np.sin(np.arange(24000) / 20)).astype(np.float32), 48000, subtype="FLOAT")
    return d


def test_read_only_output_is_one_line_for_every_command(mount, model_file, tmp_path):
    ro = mount("ro", "1m", readonly=True)
    before = sorted(ro.rglob("*"))
    p = run_cli("capture", "sweep", *SMALL, f"out={ro / 'ds'}")
    one_error(p, 4, "read-only file system", "choose an output location you can write to")
    p = run_cli("amptrain", "sample", f"run={model_file / 'model.keras'}", f"input={model_file / 'di.wav'}",
                f"output={ro / 'out.wav'}", "knobs.gain=3")
    one_error(p, 4, "read-only file system")
    p = run_cli("amptrain", "export", f"run={model_file / 'model.keras'}", "format=nam", f"output={ro / 'amp.nam'}")
    one_error(p, 4, "read-only file system")
    ds = tmp_path / "ds"
    assert run_cli("capture", "sweep", *SMALL, f"out={ds}").returncode == 0
    p = run_cli("amptrain", "trainer=quick", f"runs_dir={ro / 'runs'}", "dataset=path", f"dataset.path={ds}")
    one_error(p, 4, "read-only file system")
    assert sorted(ro.rglob("*")) == before
