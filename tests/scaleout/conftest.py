"""The scale-out test needs the loopback SMTP server of the notification tests."""

from tests.notify.conftest import smtp  # noqa: F401
