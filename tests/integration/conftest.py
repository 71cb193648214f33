"""Integration tests reuse the tracking and notification fixtures: a real sandbox
carrier on a frozen clock, a fast store, a loopback SMTP server and a webhook sink."""

from tests.notify.conftest import sink, smtp  # noqa: F401
from tests.tracking.conftest import _tracking_pg_url, clock, sandbox, store  # noqa: F401
