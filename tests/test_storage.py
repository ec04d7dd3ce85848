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


def test_capture_on_a_full_disk_stops_cleanly_and_resumes_after_space_is_freed(mount, small_dataset):
    ref = small_dataset  # the same capture (SMALL), on a disk with room
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
def di_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("di") / "di.wav"
    sf.write(path, (0.3 * np.sin(np.arange(24000) / 20)).astype(np.float32), 48000, subtype="FLOAT")
    return path


def test_read_only_output_is_one_line_for_every_command(mount, tiny_model, di_file, small_dataset, run_main):
    """capture as a new interpreter; sample, export and training in this process (the same entry point)."""
    ro = mount("ro", "1m", readonly=True)
    before = sorted(ro.rglob("*"))
    p = run_cli("capture", "sweep", *SMALL, f"out={ro / 'ds'}")
    one_error(p, 4, "read-only file system", "choose an output location you can write to")
    p = run_main("amptrain", "sample", f"run={tiny_model}", f"input={di_file}", f"output={ro / 'out.wav'}", "knobs.gain=3")
    one_error(p, 4, "read-only file system")
    p = run_main("amptrain", "export", f"run={tiny_model}", "format=nam", f"output={ro / 'amp.nam'}")
    one_error(p, 4, "read-only file system")
    p = run_main("amptrain", "trainer=quick", f"runs_dir={ro / 'runs'}", "dataset=path", f"dataset.path={small_dataset}")
    one_error(p, 4, "read-only file system")
    assert sorted(ro.rglob("*")) == before
