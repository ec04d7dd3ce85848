"""ampcap's training and sampling stage. `from amptrain import AmpModel` loads a trained amp for
rendering (TensorFlow is imported only when a model is loaded)."""
from .sampling.amp import AmpModel, ModelError

__all__ = ["AmpModel", "ModelError"]
