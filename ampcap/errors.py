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


class PluginError(AmpcapError):
    """The plugin could not be loaded, mapped or driven."""


class SignalError(AmpcapError):
    """The DI signal is unusable (rate, channels, NaN, clipping, length)."""


class DatasetError(AmpcapError):
    """A dataset directory is missing, incomplete, tampered or from another config."""


class CaptureFailed(AmpcapError):
    """A setting produced unusable output (NaN/Inf, silence)."""

    exit_code = 3
