"""The capture commands as a user runs them: datasets written and verified, resume, refusal of
changed reruns, parallel and sharded captures equal to a plain one, and one-line errors."""
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ampcap.dataset import read_manifest, verify
from tests.conftest import ROOT, SMALL, error_lines, run_cli


def capture(*args, **kw):
    return run_cli("capture", "sweep", *SMALL, *args, **kw)


def children(pid: int) -> list[int]:
    """Live child processes of pid (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def all_gone(pids: list[int], within_s: float) -> bool:
    """Whether every process in pids has exited within `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while any(Path(f"/proc/{p}").exists() for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(Path(f"/proc/{p}").exists() for p in pids)


def settings_hashes(root):
    return [(s["index"], s["split"], s["knobs"], s["sha256"]) for s in read_manifest(root)["settings"]]


def test_sweep_writes_a_verified_dataset(small_dataset):
    m = read_manifest(small_dataset)
    assert m["complete"] and m["format_version"] == 3 and m["sample_rate"] == 48000
    assert [s["split"] for s in m["settings"]].count("train") == 4
    assert {s["split"] for s in m["settings"]} == {"train", "val", "test"}
    assert m["checks"]["deterministic"] and m["checks"]["fresh_equals_reused"]
    assert m["sweep"]["design"] == "sobol" and m["sweep"]["seed"] == 0
    assert m["plugin"]["kind"] == "builtin" and len(m["plugin"]["source_sha256"]) == 64
    assert m["config"]["signal_hash"] == m["signal"]["audio_sha256"]  # a changed DI is a changed capture
    assert verify(small_dataset) == []
    p = run_cli("capture", "verify", small_dataset)
    assert p.returncode == 0 and "ok:" in p.stdout


def test_dataset_round_trip_matches_amp(small_dataset):
    """Files hold exactly what the amp renders for the recorded knobs, aligned with input.wav."""
    from capture.host import BuiltinAmp
    from capture.reamp import render_setting

    m = read_manifest(small_dataset)
    di, sr = sf.read(small_dataset / "input.wav", dtype="float32")
    assert sr == 48000 and len(di) == m["signal"]["num_samples"]
    s = m["settings"][1]
    y, _ = sf.read(small_dataset / s["file"], dtype="float32")
    ref = render_setting(BuiltinAmp(), s["knobs"], di).audio
    assert np.array_equal(y, ref)
    assert abs(float(np.max(np.abs(y))) - s["peak"]) < 1e-6
    for k in m["knobs"]:
        if k["kind"] == "continuous":
            assert s["knobs_normalized"][k["name"]] == pytest.approx((s["knobs"][k["name"]] - k["min"]) / (k["max"] - k["min"]))


def test_verify_catches_a_flipped_byte(small_dataset, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(small_dataset, d)
    f = d / "settings" / "00002.wav"
    b = bytearray(f.read_bytes())
    b[len(b) // 2] ^= 0x01
    f.write_bytes(bytes(b))
    p = run_cli("capture", "verify", d)
    assert p.returncode != 0
    assert "setting 00002: settings/00002.wav checksum mismatch" in p.stderr


@pytest.mark.parametrize("tamper,msg", [
    (lambda m: m.pop("settings"), "missing key 'settings'"),
    (lambda m: m["settings"][0]["knobs"].update(gain=42.0), "knob gain=42.0 is outside"),
    (lambda m: m.update(format_version=99), "format_version 99 is not supported"),
    (lambda m: m["settings"][5].update(knobs=m["settings"][0]["knobs"]), "also a training setting"),
])
def test_verify_catches_manifest_tampering(small_dataset, tmp_path, tamper, msg):
    d = tmp_path / "copy"
    shutil.copytree(small_dataset, d)
    m = json.loads((d / "manifest.json").read_text())
    tamper(m)
    (d / "manifest.json").write_text(json.dumps(m))
    assert any(msg in e for e in verify(d)), verify(d)


def test_verify_catches_missing_file_and_wrong_length(small_dataset, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(small_dataset, d)
    (d / "settings" / "00001.wav").unlink()
    m = json.loads((d / "manifest.json").read_text())
    sf.write(d / "settings" / "00003.wav", np.zeros(100, np.float32), 48000, subtype="FLOAT")
    from ampcap.files import sha256_of

    m["settings"][3]["sha256"] = sha256_of(d / "settings" / "00003.wav")
    (d / "manifest.json").write_text(json.dumps(m))
    errs = verify(d)
    assert any("00001.wav is missing" in e for e in errs)
    assert any("00003.wav has 100 samples" in e for e in errs)


def test_rerun_resumes_and_changed_config_is_refused(small_dataset, tmp_path):
    ds = tmp_path / "small"
    shutil.copytree(small_dataset, ds)  # the shared one stays as it is
    p = capture(f"out={ds}")
    assert p.returncode == 0 and "resuming" in p.stderr and "nothing left to capture" in p.stderr
    before = settings_hashes(ds)
    p = capture(f"out={ds}", "sweep.seed=9")
    assert p.returncode == 2
    assert error_lines(p) == [error_lines(p)[0]] and "changed: sweep.seed" in p.stderr and "overwrite=true" in p.stderr
    assert settings_hashes(ds) == before


def test_overwrite_replaces(tmp_path):
    out = tmp_path / "ds"
    assert capture(f"out={out}").returncode == 0
    p = capture(f"out={out}", "sweep.seed=9", "overwrite=true")
    assert p.returncode == 0 and verify(out) == []
    assert read_manifest(out)["sweep"]["seed"] == 9


@pytest.mark.slow
def test_killed_capture_resumes_without_loss_or_duplicates(tmp_path, small_dataset):
    """SIGKILL mid-run at several points; reruns finish with exactly the uninterrupted result."""
    slow = ["plugin.kind=python", "plugin.target=tests.amps:SlowAmp", "+plugin.options.sleep_s=0.4", "plugin.name=builtin"]
    ref = None
    rng = random.Random(8)
    for kill_at in (0, 1, 4):  # settings written before the kill (0: during the plugin checks)
        out = tmp_path / f"killed{kill_at}"
        cmd = [sys.executable, "-m", "capture", "sweep", *SMALL, *slow, f"out={out}"]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "manifest.json").exists() and len(list(out.glob("settings/*.wav"))) >= kill_at:
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.05, 0.5))  # somewhere inside the next render or write
        workers = children(proc.pid)
        assert workers, "the plugin runs in a child process"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert all_gone(workers, 5), "plugin processes outlived the capture"
        partial = read_manifest(out)
        assert not partial["complete"]
        p = capture(*slow, f"out={out}")
        assert p.returncode == 0, p.stderr
        assert verify(out) == []
        final = settings_hashes(out)
        assert [i for i, *_ in final] == list(range(6))
        assert len(list((out / "settings").glob("*.wav"))) == 6
        assert not list(out.rglob("*.tmp"))
        ref = ref or final
        assert final == ref
    # the slow amp renders what the builtin amp renders: same audio as an uninterrupted capture
    assert [h for *_, h in ref] == [h for *_, h in settings_hashes(small_dataset)]


@pytest.mark.slow
def test_two_workers_and_shards_equal_single_capture(tmp_path, small_dataset):
    ref = settings_hashes(small_dataset)
    out = tmp_path / "par"
    p = capture(f"out={out}", "workers=2")
    assert p.returncode == 0, p.stderr
    assert settings_hashes(out) == ref
    # shards through Hydra's multirun on the joblib launcher (2 jobs at once), then merge
    shard_out = tmp_path / "sharded"
    p = capture("--multirun", f"out={shard_out}", "sweep.shard=0/2,1/2", "hydra/launcher=joblib",
                "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={tmp_path / 'multirun'}")
    assert p.returncode == 0, p.stderr
    assert "Joblib.Parallel(n_jobs=2" in p.stdout + p.stderr
    assert f"python -m capture merge {shard_out}" in p.stderr
    assert sorted(d.name for d in (shard_out / "shards").iterdir()) == ["0-of-2", "1-of-2"]
    assert (tmp_path / "multirun" / "0" / ".hydra" / "overrides.yaml").exists()
    p = run_cli("capture", "merge", shard_out)
    assert p.returncode == 0, p.stderr
    assert verify(shard_out) == []
    assert settings_hashes(shard_out) == ref
    a, b = read_manifest(shard_out), read_manifest(small_dataset)
    assert a["config_sha256"] == b["config_sha256"] and a["signal"] == b["signal"]
    for s in read_manifest(small_dataset)["settings"]:
        assert (shard_out / s["file"]).read_bytes() == (small_dataset / s["file"]).read_bytes()


def test_multirun_job_errors_are_one_line_each_and_exit_nonzero(tmp_path):
    p = capture("--multirun", f"out={tmp_path / 'x'}", "sweep.shard=0/2,5/2", "hydra/launcher=joblib",
                f"hydra.sweep.dir={tmp_path / 'multirun'}")
    assert p.returncode == 2, p.stderr
    last = error_lines(p)[-1]
    assert last.startswith("error: shard 5/2: sweep.shard") and "(1 of 2 jobs failed)" in last, last
    assert "Traceback" not in p.stderr
    assert not (tmp_path / "x" / "shards" / "5-of-2").exists()


def test_latency_of_a_delaying_amp_is_measured_and_removed(tmp_path, small_dataset):
    out = tmp_path / "delayed"
    p = capture(f"out={out}", "plugin.kind=python", "plugin.target=tests.amps:DelayedAmp", "+plugin.options.delay=37")
    assert p.returncode == 0, p.stderr
    m = read_manifest(out)
    assert {s["latency"] for s in m["settings"]} == {37}
    ref = read_manifest(small_dataset)
    a, _ = sf.read(out / m["settings"][0]["file"], dtype="float32")
    b, _ = sf.read(small_dataset / ref["settings"][0]["file"], dtype="float32")
    assert np.array_equal(a, b)


def test_plugin_that_reverts_a_knob_is_reloaded(tmp_path):
    out = tmp_path / "revert"
    p = capture(f"out={out}", "plugin.kind=python", "plugin.target=tests.amps:RevertingAmp")
    assert p.returncode == 0, p.stderr
    m = read_manifest(out)
    assert not m["checks"]["fresh_equals_reused"] and m["checks"]["reload_per_setting"]
    assert verify(out) == []


def test_stateful_plugin_triggers_reload_and_nondeterminism_is_recorded(tmp_path):
    out = tmp_path / "stateful"
    p = capture(f"out={out}", "plugin.kind=python", "plugin.target=tests.amps:StatefulAmp")
    assert p.returncode == 0, p.stderr
    m = read_manifest(out)
    assert m["checks"]["reload_per_setting"] and "fresh and reused instances differ" in " ".join(m["checks"]["warnings"])
    out2 = tmp_path / "noisy"
    p = capture(f"out={out2}", "plugin.kind=python", "plugin.target=tests.amps:NoisyAmp")
    assert p.returncode == 0 and "non-deterministic" in p.stderr
    assert not read_manifest(out2)["checks"]["deterministic"]


@pytest.mark.parametrize("args,msg,code", [
    (["plugin=nope"], "Could not find 'plugin/nope'", 2),
    (["sweep=nope"], "Could not find 'sweep/nope'", 2),
    (["plugin.colour=red"], "plugin.colour", 2),
    (["+plugin.colour=red"], "config key 'plugin.colour'", 2),
    (["workers=two"], "config key 'workers'", 2),
    (["workers=0"], "workers: 0 must be at least 1", 2),
    (["sweep.shard=3/2"], "sweep.shard", 2),
    (["sweep.design=spiral"], "config key 'sweep.design': Invalid value 'spiral', expected one of [grid, random", 2),
    (["+sweep.fixed.gain=11"], "outside its range 0..10", 2),
    (["+sweep.fixed.volume=3"], "unknown knob 'volume'", 2),
    (["+sweep.fixed.channel=crunch"], "not one of ['clean', 'lead']", 2),
    (["plugin=nolly"], "plugin file not found", 2),
    (["plugin=nolly", "plugin.path=pyproject.toml"], "could not load", 2),
    (["signal=file"], "signal.path", 2),
    (["signal=file", "signal.path=/no/such.wav"], "cannot read audio", 2),
    (["signal.test_fraction=0"], "signal.test_fraction", 2),
    (["timeout_s=0"], "timeout_s: 0 must be positive", 2),
    (["retries=-1"], "retries: -1 must be 0 or more", 2),
    (["plugin.kind=python", "plugin.target=no.such:Amp"], "plugin.target: cannot import", 2),
    (["--frobnicate"], "unknown option --frobnicate", 2),
])
def test_bad_input_one_line_error_and_no_files(tmp_path, run_main, args, msg, code):
    out = tmp_path / "ds"
    p = run_main("capture", "sweep", *SMALL, f"out={out}", *args)  # in this process: tests/test_bad_inputs.py runs a few as new ones
    errs = error_lines(p)
    assert p.returncode == code, p.stderr
    assert len(errs) == 1 and errs[0].startswith("error: ") and msg in errs[0], errs
    assert "Traceback" not in p.stderr
    if code == 2:
        assert not out.exists(), "bad input must not leave files"


BROKEN = ["sweep=gain_sweep", "sweep.n_train=5", "sweep.n_heldout=2", "signal.duration_s=6", "progress=false",
          "plugin.kind=python", "plugin.target=tests.amps:BrokenAmp", "timeout_s=2"]
# gain_sweep with 5 + 2 settings: gains 0, 2.5, 5, 7.5, 10 (train), 1.25 (val), 8.75 (test); the plugin
# checks use settings 00000 and 00006.
FAULTS = ["+plugin.options.segfault_gains=[2.5]", "+plugin.options.hang_gains=[5.0]", "+plugin.options.nan_gains=[7.5]",
          "+plugin.options.flaky_gains=[10.0]"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_crashing_hanging_nan_plugin_fails_only_its_settings(tmp_path, workers):
    """Each fault hits one setting: it is retried once on a fresh process, then recorded as failed;
    the rest are captured, the run ends with a summary and exit 3, and a rerun retries only those."""
    out, state = tmp_path / "broken", tmp_path / "state"
    state.mkdir()
    args = [*BROKEN, *FAULTS, f"+plugin.options.state_dir={state}", f"out={out}", f"workers={workers}"]
    p = capture(*args)
    assert p.returncode == 3, p.stderr
    lines = error_lines(p)
    assert "Traceback" not in p.stderr
    assert lines[-1].startswith("error: 3 of 7 settings failed") and "rerun the same command to retry them" in lines[-1]
    summary = lines[lines.index("3 of 7 settings failed after 2 attempt(s) each:") + 1: -1]
    assert [l.split()[0] for l in summary] == ["00001", "00002", "00003"]
    m = read_manifest(out)
    status = {s["id"]: (s["status"], s.get("error") or "") for s in m["settings"]}
    assert status["00001"] == ("failed", "plugin process crashed (SIGSEGV)")
    assert status["00002"][0] == "failed" and status["00002"][1].startswith("timed out after 2 s")
    assert status["00003"] == ("failed", "plugin output contains NaN/Inf")
    for i in ("00000", "00004", "00005", "00006"):
        assert status[i][0] == "done"
    by_id = {s["id"]: s for s in m["settings"]}
    assert by_id["00004"]["attempts"] == ["plugin process crashed (SIGSEGV)"]  # flaky: crashed once, then fine
    assert len(by_id["00001"]["attempts"]) == 2 and not m["complete"] and m["run"]["failed"] == 3
    assert sorted(f.name for f in (out / "settings").iterdir()) == ["00000.wav", "00004.wav", "00005.wav", "00006.wav"]
    assert not list(out.rglob("*.tmp"))
    problems = verify(out)
    assert "setting 00001: not captured (status failed: plugin process crashed (SIGSEGV))" in problems
    if workers == 2:
        return
    # the good settings equal a capture of the same settings by an amp that never fails
    clean = tmp_path / "clean"
    assert capture(*BROKEN, f"out={clean}").returncode == 0
    ref = {s["id"]: s["sha256"] for s in read_manifest(clean)["settings"]}
    assert all(by_id[i]["sha256"] == ref[i] for i in ("00000", "00004", "00005", "00006"))
    # a rerun retries just the failed settings (they fail again here); the captured ones are untouched
    before = {f.name: f.stat().st_mtime_ns for f in (out / "settings").iterdir()}
    p = capture(*args)
    assert p.returncode == 3 and "retrying 3 that failed before" in p.stderr
    assert {f.name: f.stat().st_mtime_ns for f in (out / "settings").iterdir()} == before
    assert [s["status"] for s in read_manifest(out)["settings"]].count("failed") == 3


def test_a_hung_plugin_process_dies_with_a_killed_capture(tmp_path):
    """SIGKILL the capture while its plugin process hangs: the kernel takes the plugin process down
    too (it would otherwise spin on forever, holding the plugin and its licence)."""
    out = tmp_path / "hung"
    cmd = [sys.executable, "-m", "capture", "sweep", *BROKEN, "timeout_s=120", "+plugin.options.hang_gains=[2.5]", f"out={out}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (out / "settings" / "00000.wav").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # now rendering gain 2.5: hung
    workers = children(proc.pid)
    assert workers and proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert all_gone(workers, 3), "the hung plugin process outlived the capture"


def test_plugin_checks_move_on_when_the_plugin_crashes_on_the_check_setting(tmp_path):
    out = tmp_path / "checks"
    p = capture(*BROKEN, "+plugin.options.segfault_gains=[0.0]", f"out={out}", "retries=0")
    assert p.returncode == 3, p.stderr
    assert "plugin checks on settings 00000 and 00006 failed: plugin process crashed (SIGSEGV)" in p.stderr
    m = read_manifest(out)
    assert m["checks"]["check_setting"] == "00001"
    assert [s["status"] for s in m["settings"]] == ["failed"] + ["done"] * 6


def test_a_plugin_that_fails_every_setting_stops_early(tmp_path):
    out = tmp_path / "silent"
    p = capture(*SMALL, "plugin.kind=python", "plugin.target=tests.amps:SilentAmp", f"out={out}")
    assert p.returncode == 3
    last = error_lines(p)[-1]
    assert last.startswith("error: the first 3 settings all failed (plugin output is silent") and "stopping" in last
    m = read_manifest(out)
    assert [s["status"] for s in m["settings"]] == ["failed"] * 3 + ["pending"] * 3 and not m["complete"]
    assert not list((out / "settings").glob("*.wav"))


def test_unknown_command_and_help():
    p = run_cli("capture", "frobnicate")
    assert p.returncode == 2 and error_lines(p) == ["error: unknown command 'frobnicate' (commands: sweep, params, verify, merge, report, realplay)"]
    p = run_cli("capture", "--help")
    assert p.returncode == 0 and "python -m capture sweep" in p.stdout
    p = run_cli("capture", "verify", "/no/such/dir")
    assert p.returncode != 0 and "no such dataset directory" in p.stderr


def test_params_lists_builtin_knobs():
    p = run_cli("capture", "params")
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines[0].split()[:5] == ["name", "display", "range", "unit", "value"]
    assert any(l.startswith("gain ") and "0 .. 10" in l for l in lines)
    assert any(l.startswith("channel ") and "clean|lead" in l for l in lines)


def test_user_config_dir_plugin(tmp_path):
    """A plugin config kept in the user's own folder, used without editing the package."""
    (tmp_path / "myplugins" / "plugin").mkdir(parents=True)
    (tmp_path / "myplugins" / "plugin" / "myamp.yaml").write_text("name: myamp\nkind: builtin\n")
    out = tmp_path / "ds"
    p = run_cli("capture", "sweep", "--config-dir", tmp_path / "myplugins", "plugin=myamp", *SMALL, f"out={out}")
    assert p.returncode == 0, p.stderr
    assert read_manifest(out)["config"]["plugin"]["name"] == "myamp"
    p = run_cli("capture", "params", "--config-dir", tmp_path / "myplugins", "plugin=myamp")
    assert p.returncode == 0 and "gain" in p.stdout


@pytest.mark.slow
def test_a_second_capture_into_the_same_directory_stops_at_once_and_a_killed_ones_lock_does_not_block(tmp_path):
    """Two captures into one out= would interleave manifest and WAVs: the second stops with one line
    naming the first's pid (exit 2) and leaves it running; once the first is killed, its lock is gone."""
    out = tmp_path / "ds"
    slow = ["plugin.kind=python", "plugin.target=tests.amps:SlowAmp", "+plugin.options.sleep_s=3.0", "plugin.name=builtin"]
    first = subprocess.Popen([sys.executable, "-m", "capture", "sweep", *SMALL, *slow, f"out={out}"], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out / "manifest.json").exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        t0 = time.monotonic()
        second = capture(*slow, f"out={out}")
        took = time.monotonic() - t0
        assert first.poll() is None, "the first capture should still be running"
        lines = error_lines(second)
        assert second.returncode == 2 and len(lines) == 1, second.stderr
        assert lines[0].startswith(f"error: out={out}: another capture is writing to this directory (pid {first.pid}"), lines[0]
        assert took < 30  # it does not wait for the first one
        assert first.poll() is None and (out / ".ampcap.lock").exists()
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert (out / ".ampcap.lock").exists()  # the killed run's lock file is left behind...
        third = capture(*slow, f"out={out}")  # ...and does not block: the rerun resumes and finishes
        assert third.returncode == 0, third.stderr
        assert "resuming" in third.stderr and verify(out) == []
        assert not (out / ".ampcap.lock").exists()
    finally:
        first.kill()
        first.wait()


def test_output_above_full_scale_is_kept_exactly_noted_once_and_old_datasets_still_load(tmp_path, small_dataset):
    """Float WAVs lose nothing above 0 dBFS: no per-setting 'clipping' warnings, the audio is the
    plugin's own (unscaled), the manifest (format 2) records the level, one note says what it means.
    A format-1 dataset (no output_level) still verifies."""
    out = tmp_path / "loud"
    p = capture(f"out={out}", "plugin.kind=python", "plugin.target=tests.amps:LoudAmp", "+plugin.options.level=4.0",
                "plugin.name=builtin")
    assert p.returncode == 0, p.stderr
    m = read_manifest(out)
    assert m["format_version"] == 3 and all(not s["warnings"] for s in m["settings"])
    assert "clipping" not in p.stderr
    notes = [l for l in p.stderr.splitlines() if l.startswith("note: ")]
    lvl = m["output_level"]
    assert lvl["settings_above_full_scale"] >= 1 and lvl["peak"] > 1.0
    assert len(notes) == 1 and f"{lvl['settings_above_full_scale']} of 6 settings peak above 0 dBFS" in notes[0]
    assert "nothing is clipped" in notes[0]
    # the same settings as the plain capture, 4x: stored exactly, not normalised or clipped
    plain = read_manifest(small_dataset)
    for s, ref in zip(m["settings"], plain["settings"]):
        y, _ = sf.read(out / s["file"], dtype="float32")
        y0, _ = sf.read(small_dataset / ref["file"], dtype="float32")
        np.testing.assert_allclose(y, 4.0 * y0, rtol=1e-6, atol=1e-7)
    assert max(s["peak"] for s in m["settings"]) == lvl["peak"] > 1.0
    # a version-1 dataset, as captured before the format change, still verifies
    old = tmp_path / "v1"
    shutil.copytree(small_dataset, old)
    m1 = read_manifest(old)
    m1["format_version"] = 1
    m1.pop("output_level", None)
    m1.pop("labels_sha256", None)
    (old / "manifest.json").write_text(json.dumps(m1))
    assert verify(old) == []
    assert run_cli("capture", "verify", old).returncode == 0


def test_params_table_fits_100_columns_and_all_shows_every_choice():
    many = ["plugin.kind=python", "plugin.target=tests.amps:ManyChoicesAmp"]
    p = run_cli("capture", "params", *many)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert max(map(len, lines)) <= 100, max(lines, key=len)
    row = next(l for l in lines if l.startswith("cabinet_model_selection"))
    assert "Cabinet 00" in row and "|... (25)" in row
    assert "--all shows everything" in p.stderr
    full = run_cli("capture", "params", "--all", *many)
    assert full.returncode == 0, full.stderr
    row = next(l for l in full.stdout.splitlines() if l.startswith("cabinet_model_selection"))
    assert all(c in row for c in [f"Cabinet {i:02d}: 4x12 Vintage Greenback, SM57 off-axis" for i in range(25)])
    assert "shortened" not in full.stderr


def test_overwrite_replaces_a_capture_and_only_its_files(tmp_path, small_dataset):
    """overwrite=true on a dataset of another config replaces the capture's own files; the lock, a
    killed writer's temp files and the report go too, and nothing else is touched outside out=."""
    out = tmp_path / "ds"
    shutil.copytree(small_dataset, out)
    (out / "settings" / ".00001.wav.dead.tmp").write_bytes(b"half")  # a killed writer's temp file
    m = read_manifest(out)  # and a setting written just before the kill, its manifest entry still pending
    m["settings"][3].update(status="pending")
    m["settings"][3].pop("file")
    (out / "manifest.json").write_text(json.dumps(m))
    (tmp_path / "beside.txt").write_text("mine")
    p = capture(f"out={out}", "signal.duration_s=7", "overwrite=true")
    assert p.returncode == 0, p.stderr
    m = read_manifest(out)
    assert m["signal"]["num_samples"] == 7 * 48000 and verify(out) == []
    assert not (out / "settings" / ".00001.wav.dead.tmp").exists()
    assert (tmp_path / "beside.txt").read_text() == "mine"


def test_verify_of_an_interrupted_capture_is_one_line_with_the_resume_command(tmp_path, small_dataset):
    out = tmp_path / "ds"
    shutil.copytree(small_dataset, out)
    m = read_manifest(out)
    for s in m["settings"][2:]:
        s.update(status="pending")
        for k in ("file", "sha256", "peak", "rms", "latency", "warnings"):
            s.pop(k, None)
    m["complete"] = False
    m["command"] = "python -m capture sweep sweep=tiny out=ds"
    (out / "manifest.json").write_text(json.dumps(m))
    p = run_cli("capture", "verify", out)
    assert p.returncode == 2
    listed = [l for l in p.stdout.splitlines() if l.startswith("  - ")]
    assert len(listed) == 1 and "4 of 6 settings not captured yet" in listed[0], p.stdout
    assert "resume it with python -m capture sweep sweep=tiny out=ds" in listed[0]
    assert len(error_lines(p)) == 1


def test_a_new_capture_records_its_command_and_labels_checksum(tmp_path):
    out = tmp_path / "ds"
    p = capture(f"out={out}")
    assert p.returncode == 0, p.stderr
    m = read_manifest(out)
    assert m["command"].startswith("python -m capture sweep sweep=tiny") and m["command"].endswith(f"out={out}")
    from ampcap.dataset import labels_sha256

    assert m["labels_sha256"] == labels_sha256(m)


def test_resume_refuses_edited_labels_and_rewrites_a_missing_input(tmp_path, small_dataset):
    """A rerun into a dataset whose labels were edited by hand is refused (it would capture the wrong
    knobs); one whose DI file is gone (killed after the manifest, before the DI) writes it and goes on."""
    out = tmp_path / "ds"
    shutil.copytree(small_dataset, out)
    m = read_manifest(out)
    m["settings"][1]["knobs"]["bass"] = 3.0
    m["settings"][1]["knobs_normalized"]["bass"] = 0.3
    (out / "manifest.json").write_text(json.dumps(m))
    p = capture(f"out={out}")
    assert p.returncode == 2 and "setting 00001's labels in manifest.json differ from the design" in error_lines(p)[-1]
    shutil.rmtree(out)
    shutil.copytree(small_dataset, out)
    (out / "input.wav").unlink()
    p = capture(f"out={out}")
    assert p.returncode == 0, p.stderr
    assert verify(out) == []


def test_di_paths_as_users_type_them_home_spaces_parentheses(tmp_path):
    """`signal.path=~/di/x.wav` (bash leaves ~ after `=` alone) and a name with spaces and parentheses
    (the shell's quotes are gone by the time Hydra reads it) both capture."""
    from capture.signals import builtin_signal

    home = tmp_path / "home"
    (home / "di").mkdir(parents=True)
    x = builtin_signal(48000, 6.0, 3, 0.1, 0.2).audio
    sf.write(home / "di" / "My DI (take 2).wav", x, 48000, subtype="FLOAT")
    env = {"HOME": str(home)}
    for i, path in enumerate(["~/di/My DI (take 2).wav", str(home / "di" / "My DI (take 2).wav")]):
        p = capture(f"out={tmp_path / f'ds{i}'}", "signal=file", f"signal.path={path}", env=env)
        assert p.returncode == 0, p.stderr
        assert verify(tmp_path / f"ds{i}") == []


def test_help_after_a_command_and_command_typos():
    p = run_cli("capture", "sweep", "--help")
    assert p.returncode == 0 and "usage: python -m capture" in p.stdout
    p = run_cli("capture", "sweeps", "sweep=tiny")
    assert p.returncode == 2 and error_lines(p) == ["error: unknown command 'sweeps'; did you mean sweep? "
                                                    "(commands: sweep, params, verify, merge, report, realplay)"]
