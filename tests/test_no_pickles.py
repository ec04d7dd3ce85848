"""Loading never runs code from a file: a checkpoint carrying a pickled payload and a .keras file
carrying a Python lambda are refused with one line, and the payload (which would create a marker
file) never runs. Each test first shows the payload is live when loaded unsafely, so it can fail."""
import json
import os

import numpy as np
import pytest

from amptrain import checkpoint


class Payload:
    """Unpickling this runs os.system: what a malicious pickle does."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_with_a_pickled_object_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    bad = tmp_path / "last.npz"
    meta = json.dumps({"format": checkpoint.FORMAT, "format_version": checkpoint.VERSION, "n_model": 1, "n_opt": 0,
                       "state": {}})
    np.savez(bad, meta=np.array(meta), **{"model/0": np.array([Payload(marker)], dtype=object)})
    with pytest.raises(checkpoint.CheckpointError):   # the weights array is an object array: refused
        checkpoint.load(bad, _NoWeights())
    assert not marker.exists()
    # the same file with pickles allowed runs the payload: the refusal above is what protects us
    with np.load(bad, allow_pickle=True) as z:
        z["model/0"]
    assert marker.exists()


class _NoWeights:
    weights: list = []


def test_keras_file_with_a_lambda_is_refused_before_keras_reads_it(tmp_path):
    from amptrain.sampling.amp import ModelError, load_net, read_info
    from amptrain.tfenv import quiet_tensorflow

    quiet_tensorflow()
    import keras

    marker = tmp_path / "pwned"
    code = f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]"
    inp = keras.Input((None, 1))
    model = keras.Model(inp, keras.layers.Lambda(eval(code))(inp))
    f = tmp_path / "model.keras"
    model.save(f)
    marker.unlink()  # building the model above ran the lambda once
    for load in (load_net, read_info):
        with pytest.raises(ModelError, match="not an ampcap amp model"):
            load(f)
    assert not marker.exists()
    # Keras' own safe mode refuses it too; unsafe loading runs the lambda's code
    with pytest.raises(ValueError, match="unsafe"):
        keras.saving.load_model(f, safe_mode=True)
    assert not marker.exists()
    keras.saving.load_model(f, safe_mode=False)(np.zeros((1, 4, 1), np.float32))
    assert marker.exists()
