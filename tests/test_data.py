"""Training data comes from the right settings and the right audio region, aligned."""
import numpy as np
import pytest

from ampcap.dataset import read_manifest
from ampcap.errors import DatasetError
from amptrain.data import gather, load_split, segment_plan


def test_splits_use_their_settings_and_region(small_dataset):
    m = read_manifest(small_dataset)
    tr = load_split(small_dataset, m, "train", "train")
    te = load_split(small_dataset, m, "test", "test")
    a, b = m["signal"]["regions"]["test"]
    assert len(tr.y) == 4 and len(te.y) == 1 and te.y.shape[1] == b - a == len(te.x)
    assert all(s["split"] == "test" for s in te.settings)
    assert tr.cond.shape == (4, 8)  # 6 continuous + 2-way channel one-hot
    import soundfile as sf

    full, _ = sf.read(small_dataset / te.settings[0]["file"], dtype="float32")
    np.testing.assert_array_equal(te.y[0], full[a:b])


def test_segment_plan_aligned_and_shuffled(small_dataset):
    m = read_manifest(small_dataset)
    tr = load_split(small_dataset, m, "train", "train")
    which, starts = segment_plan(tr, 4800)
    x, c, y = gather(tr, which, starts, 4800)
    n_per = len(tr.x) // 4800
    assert x.shape == (4 * n_per, 4800, 1) and y.shape == x.shape and c.shape == (4 * n_per, 8)
    np.testing.assert_array_equal(y[n_per, :, 0], tr.y[1, :4800])
    np.testing.assert_array_equal(x[1, :, 0], tr.x[4800:9600])
    np.testing.assert_array_equal(c[n_per], tr.cond[1])
    ws, ss = segment_plan(tr, 4800, np.random.default_rng(0), offset=7)
    xs, cs, ys = gather(tr, ws, ss, 4800)
    grid = range(7, len(tr.x) - 4800 + 1, 4800)
    assert sorted(zip(ws.tolist(), ss.tolist())) == [(k, g) for k in range(4) for g in grid]
    np.testing.assert_array_equal(ys[0, :, 0], tr.y[ws[0], ss[0]:ss[0] + 4800])
    with pytest.raises(DatasetError, match="shorter than one segment"):
        segment_plan(tr, 10 ** 7)


def test_setting_weights_balance_loudness_with_a_floor():
    from amptrain.data import SplitData, setting_weights

    rng = np.random.default_rng(0)
    y = np.stack([a * rng.standard_normal(4800) for a in (1.0, 0.5, 0.25, 1e-5)]).astype(np.float32)
    w = setting_weights(SplitData(y[0], y, np.zeros((4, 0), np.float32), [{}] * 4))
    assert w.mean() == pytest.approx(1.0, rel=1e-5)
    assert w[1] / w[0] == pytest.approx(4.0, rel=0.05) and w[2] / w[0] == pytest.approx(16.0, rel=0.05)
    median = np.median([1.0, 0.25, 0.0625, 1e-10])
    assert w[3] / w[0] == pytest.approx(1.0 / (0.01 * median), rel=0.05)  # floored, not 1e10
