"""Errors whose message is written for the person at the keyboard.

Every room raises subclasses of :class:`OrderdeckError` for problems a user can fix
(bad input, bad configuration, an unreachable store); the command line prints the
message on one line and exits non-zero, the console shows it as a notification.
"""

from __future__ import annotations


class OrderdeckError(Exception):
    """A problem the user can act on; ``str(error)`` is the whole message."""

    exit_code = 1


class StoreError(OrderdeckError):
    """The store cannot be opened or used."""


class SchemaTooNew(StoreError):
    """The store was written by a newer orderdeck; we refuse to touch it."""


class SchemaOutdated(StoreError):
    """The store needs ``orderdeck db upgrade`` before this command can run."""


class NotFoundError(OrderdeckError):
    """A thing the user named (an order, a notification) does not exist."""

    exit_code = 3
