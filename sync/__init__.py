"""The sync engine: drop-folder ingest, carrier detection and adapters, the poller,
and the service loop that runs them. Never imports Textual or the console."""
