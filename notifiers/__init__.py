"""Notifications: rules (status change -> outbox rows), templates, Apprise dispatch."""
