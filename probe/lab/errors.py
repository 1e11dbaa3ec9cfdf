"""The lab's errors: ``ProbeError`` subclasses whose message is one line starting with ``lab:``."""

from probe.errors import ProbeError


class LabError(ProbeError):
    """The lab cannot be built, found, switched or removed."""


class NotRootError(LabError):
    """Network namespaces, firewalls and traffic control need root."""


class LabNotUpError(LabError):
    """No lab is running where one was expected."""
