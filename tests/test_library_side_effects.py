"""Library code leaves the host process alone: importing ampcap's packages sets no umask, and loading
TensorFlow for a model (`AmpModel.load` -> quiet_tensorflow) leaves file descriptor 2 (the host's
stderr) untouched; only `python -m amptrain`, whose process is ours, drops TensorFlow's chatter."""
import subprocess
import sys

from tests.conftest import ROOT

NO_UMASK = "import os\ndef refuse(*a):\n    raise AssertionError('os.umask called')\nos.umask = refuse\n"
NO_DUP2 = "import os\ndef refuse(*a):\n    raise AssertionError('os.dup2 called')\nos.dup2 = refuse\n"


def run(code: str):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_importing_the_packages_sets_no_umask():
    p = run(NO_UMASK + "import pkgutil, importlib\n"
            "for pkg in ('ampcap', 'capture', 'amptrain', 'amptrain.sampling'):\n"
            "    for m in pkgutil.iter_modules(importlib.import_module(pkg).__path__):\n"
            "        m.name != '__main__' and importlib.import_module(pkg + '.' + m.name)\n"
            "from ampcap.files import atomic_write_bytes\nimport tempfile, pathlib\n"
            "atomic_write_bytes(pathlib.Path(tempfile.mkdtemp()) / 'x', b'1')\nprint('ok')")
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr[-2000:]


def test_loading_tensorflow_for_a_model_leaves_stderr_alone():
    p = run(NO_DUP2 + "from amptrain.tfenv import quiet_tensorflow\nquiet_tensorflow()\nprint('ok')")
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr[-2000:]


def test_loading_a_model_in_python_prints_no_cuda_error_on_a_machine_without_a_gpu(tiny_model):
    """A Python user (not the CLI) loading a model on a machine with no NVIDIA driver sees no
    'failed call to cuInit: CUDA error' line (TF_CPP_MIN_LOG_LEVEL defaults to 3 there)."""
    import os

    if os.path.exists("/proc/driver/nvidia/version"):
        import pytest

        pytest.skip("an NVIDIA driver is installed: TensorFlow's CUDA lines are real there")
    p = run(f"from amptrain import AmpModel\nm = AmpModel.load({str(tiny_model)!r})\nprint('ok', m.knob_names)")
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr[-2000:]
    assert "cuInit" not in p.stderr and "CUDA error" not in p.stderr, p.stderr[-2000:]
