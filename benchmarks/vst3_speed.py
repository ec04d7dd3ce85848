"""Speed of the exported VST3 player on one core: x real time of the engine (the plugin's own C++, built
into its harness) at hidden 16/32/48/64 with 512- and 64-sample blocks, the built VST3 hosted by pedalboard
(the engine plus the plugin and host around it), beside the Python streaming render and NAM's trainer
(neural-amp-modeler, PyTorch) on the .nam snapshot of the same weights. NAM's C++ core is not in any package
registry this project can install from, so it is not built here. CPU % of one core at 48 kHz with 64-sample
blocks (a guitarist's buffer) = 100 / x real time.

    python -m benchmarks.vst3_speed [--hidden 16 32 48 64] [--vst3 16 32] [--seconds 10]

Each VST3 build takes ~2 minutes the first time (cached after). Writes outputs/benchmarks/vst3_speed.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

SR = 48000


def one_core() -> None:
    """Pin this process (and the harness it starts) to one core."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def model(hidden: int):
    from tests.models import make_net

    net = make_net(hidden=hidden, level=True, drive=True)
    net.dc_block_hz = 2.0
    return net


def engine_speed(net, folder: Path, seconds: float, block: int) -> float:
    from amptrain.sampling.player_project import compile_harness, write_project

    if not (folder / "harness").exists():
        write_project(net, folder / "project", "Bench")
        compile_harness(folder / "project", folder / "harness")
    runs = [subprocess.run([str(folder / "harness"), "--bench", str(seconds), str(SR), str(block)], capture_output=True,
                           text=True, check=True).stdout.split()[1] for _ in range(3)]
    return max(float(r) for r in runs)


def vst3_speed(net, folder: Path, seconds: float, block: int) -> float:
    import pedalboard

    from amptrain.sampling.amp import AmpModel
    from amptrain.sampling.player_project import export_vst3

    bundle = folder / f"Bench{net.hidden_size}.vst3"
    if not bundle.exists():
        export_vst3(AmpModel(net), bundle, f"Bench{net.hidden_size}")
    plugin = pedalboard.load_plugin(str(bundle))
    x = (0.3 * np.random.default_rng(0).standard_normal((1, int(seconds * SR)))).astype(np.float32)
    plugin.process(x[:, :4096], SR, buffer_size=block, reset=True)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        plugin.process(x, SR, buffer_size=block, reset=True)
        best = min(best, time.perf_counter() - t)
    return seconds / best


def python_stream_speed(net, seconds: float, block: int = 512) -> float:
    from amptrain.sampling.amp import AmpModel

    amp = AmpModel(net)
    x = (0.3 * np.random.default_rng(0).standard_normal(int(seconds * SR))).astype(np.float32)
    s = amp.stream()
    s.process(x[:block])  # compile
    t = time.perf_counter()
    for i in range(0, len(x), block):
        s.process(x[i: i + block])
    return seconds / (time.perf_counter() - t)


def nam_torch_speed(net, seconds: float) -> float | None:
    try:
        import torch
        from nam.models import init_from_nam
    except ImportError:
        return None
    from amptrain.sampling.export import to_nam

    torch.set_num_threads(1)
    values = {k["name"]: k["default"] for k in net.knobs}
    from amptrain.sampling.amp import AmpModel

    cfg = to_nam(net, AmpModel(net).features(1, values), values)
    m = init_from_nam(cfg)
    m.eval()
    x = torch.from_numpy((0.3 * np.random.default_rng(0).standard_normal(int(seconds * SR))).astype(np.float32))
    with torch.no_grad():
        m(x[:4096])
        t = time.perf_counter()
        m(x)
    return seconds / (time.perf_counter() - t)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hidden", type=int, nargs="+", default=[16, 32, 48, 64])
    ap.add_argument("--vst3", type=int, nargs="*", default=[32], help="hidden sizes to build and host as VST3")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--python-seconds", type=float, default=3.0)
    args = ap.parse_args(argv)
    one_core()
    from amptrain.tfenv import quiet_tensorflow

    quiet_tensorflow()
    rows = []
    work = Path(tempfile.mkdtemp(prefix="ampcap-vst3-bench-"))
    for hidden in args.hidden:
        net = model(hidden)
        e512 = engine_speed(net, work / f"h{hidden}", args.seconds, 512)
        e64 = engine_speed(net, work / f"h{hidden}", args.seconds, 64)
        row = {"hidden": hidden, "engine x RT (512)": round(e512, 1), "engine x RT (64)": round(e64, 1),
               "CPU % (64, 48 kHz)": round(100.0 / e64, 2)}
        if hidden in args.vst3:
            v512 = vst3_speed(net, work / f"h{hidden}", args.seconds, 512)
            v64 = vst3_speed(net, work / f"h{hidden}", args.seconds, 64)
            row.update({"VST3 x RT (512)": round(v512, 1), "VST3 x RT (64)": round(v64, 1),
                        "VST3 CPU % (64)": round(100.0 / v64, 2)})
        row["Python stream x RT"] = round(python_stream_speed(net, args.python_seconds), 1)
        nam = nam_torch_speed(net, args.python_seconds)
        row["NAM PyTorch x RT"] = round(nam, 1) if nam else None
        rows.append(row)
        print(json.dumps(row), flush=True)
    from ampcap.cli import print_table

    cols = list(dict.fromkeys(k for r in rows for k in r))
    print()
    print_table(rows, cols)
    out = Path("outputs/benchmarks/vst3_speed.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    from ampcap.files import write_json

    write_json(out, {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.processor()
                     or platform.machine(), "cores": 1, "rows": rows})
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
