"""The probe's own errors: one base, a few kinds.

    ProbeError              base of every error the probe raises on purpose
    ├── ConfigError         a configuration file is missing, unreadable or invalid
    ├── TestListError       a test list cannot be read at all (bad rows are reported, not raised)
    └── StorageError        the database cannot be opened, migrated or written

Censorship never raises: a reset, a timeout or NXDOMAIN is a failure string in a
measurement (see ``probe.failures``). Only a broken probe raises.
"""


class ProbeError(Exception):
    """Base of the probe's own errors; the CLI prints ``str(error)`` on one line."""


class ConfigError(ProbeError):
    """A configuration file is missing, unreadable or invalid."""


class TestListError(ProbeError):
    """A test list cannot be read at all."""

    __test__ = False  # not a pytest test class


class StorageError(ProbeError):
    """The measurement database cannot be opened, migrated or written."""
