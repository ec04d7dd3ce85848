"""User-facing errors: each is shown as one line and ends the command with a non-zero exit."""
import errno

# Writing failed for a reason of the storage, not of the input or plugin (disk full, read-only, no
# permission): commands stop with exit code 4 and say so in one line.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


class AmpcapError(Exception):
    """A problem the user can fix (bad config, bad file, bad plugin); printed without a traceback."""

    exit_code = 2


class ConfigError(AmpcapError):
    """A config key or value is wrong; the message names the key."""


class ModelError(AmpcapError):
    """A model file or run directory is missing, damaged or not ours, or a model is used wrongly."""


class ModelInputError(ConfigError, ModelError):
    """What a model was given is wrong (audio, rate, render option): both `except ModelError` and
    `except ConfigError` catch it."""


class KnobError(ModelInputError):
    """A knob name or value is wrong: a config key for a capture, a model's input for a render."""


class PluginError(AmpcapError):
    """The plugin could not be loaded, mapped or driven."""


class SignalError(AmpcapError):
    """The DI signal is unusable (rate, channels, NaN, clipping, length)."""


class DatasetError(AmpcapError):
    """A dataset directory is missing, incomplete, tampered or from another config."""


class StorageError(AmpcapError):
    """An output location that cannot be written (checked before the work starts)."""

    exit_code = 4


class CaptureFailed(AmpcapError):
    """A setting produced unusable output (NaN/Inf, silence)."""

    exit_code = 3
