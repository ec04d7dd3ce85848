"""The LSTM of training through TensorFlow's fused CPU kernel (`BlockLSTMV2`), on the variables of a
Keras `layers.LSTM` (kernel, recurrent kernel, bias; gate order i, f, c, o), so a model trains fast
and still saves, renders and exports as a plain Keras LSTM.

One op runs the whole sequence in C++ (one matmul of [x, h] per step, no graph overhead per sample):
about 3x the samples/s of Keras' per-step `while_loop` on this CPU. TensorFlow registers the V1
gradient (`BlockLSTMGrad`, gate layout i, c, f, o) for this op, which is wrong for V2; so the forward
op is wrapped in `tf.custom_gradient` and differentiated with `BlockLSTMGradV2` itself. The batch is
cut into `splits` row blocks, each its own pair of ops, which TensorFlow runs on separate cores.
"""
from __future__ import annotations


def _block_lstm(x, h0, c0, w, b):
    """x (T, B, I) time-major, h0/c0 (B, H), w (I+H, 4H), b (4H) -> (h (T, B, H), cs (T, B, H))."""
    import tensorflow as tf

    @tf.custom_gradient
    def run(x, h0, c0, w, b):
        hidden = tf.shape(b)[0] // 4
        peep = tf.zeros([hidden], x.dtype)  # no peepholes: use_peephole=False ignores them
        steps = tf.cast(tf.shape(x)[0], tf.int64)
        i, cs, f, o, ci, co, h = tf.raw_ops.BlockLSTMV2(
            seq_len_max=steps, x=x, cs_prev=c0, h_prev=h0, w=w, wci=peep, wcf=peep, wco=peep, b=b,
            cell_clip=0.0, use_peephole=False)

        def grad(dh, dcs):
            dh = tf.zeros_like(h) if dh is None else dh
            dcs = tf.zeros_like(cs) if dcs is None else dcs
            dx, dc0, dh0, dw, _, _, _, db = tf.raw_ops.BlockLSTMGradV2(
                seq_len_max=steps, x=x, cs_prev=c0, h_prev=h0, w=w, wci=peep, wcf=peep, wco=peep, b=b,
                i=i, cs=cs, f=f, o=o, ci=ci, co=co, h=h, cs_grad=dcs, h_grad=dh, use_peephole=False)
            return dx, dh0, dc0, dw, db

        return (h, cs), grad

    return run(x, h0, c0, w, b)


def fused_lstm(cell, x, h0, c0, splits: int = 1):
    """Run a Keras LSTM cell's weights over x (B, T, I) from state (h0, c0) (B, H) with the fused
    kernel; returns (sequence (B, T, H), h (B, H), c (B, H)), as `layers.LSTM(return_sequences=True,
    return_state=True)` does. `splits` > 1 cuts the rows into that many blocks run in parallel."""
    import tensorflow as tf

    w = tf.concat([tf.convert_to_tensor(cell.kernel), tf.convert_to_tensor(cell.recurrent_kernel)], axis=0)
    b = tf.convert_to_tensor(cell.bias)
    x = tf.transpose(tf.convert_to_tensor(x), [1, 0, 2])
    rows = x.shape[1]
    n = splits if rows is not None and splits > 1 and rows % splits == 0 and rows >= splits else 1
    hs, cs = [], []
    for xs, hp, cp in zip(tf.split(x, n, axis=1), tf.split(h0, n, axis=0), tf.split(c0, n, axis=0)):
        h, c = _block_lstm(xs, hp, cp, w, b)
        hs.append(h)
        cs.append(c[-1])
    h = hs[0] if n == 1 else tf.concat(hs, axis=1)
    c_last = cs[0] if n == 1 else tf.concat(cs, axis=0)
    return tf.transpose(h, [1, 0, 2]), h[-1], c_last


def available() -> bool:
    """The fused kernel exists here (the TensorFlow backend with its CPU/GPU LSTM ops)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return hasattr(tf.raw_ops, "BlockLSTMV2") and hasattr(tf.raw_ops, "BlockLSTMGradV2")
