"""The Textual console: board, order detail, notifications, attention queue."""
