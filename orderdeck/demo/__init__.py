"""``orderdeck demo``: the whole product on made-up data, in a throwaway folder.

:class:`DemoSession` sets it up (store, drop files, sandbox carrier, local
notification sinks) and tears it down; ``orderdeck.cli.demo_cmd`` runs the engine
and the console over it. See docs/demo.md.
"""

from orderdeck.demo.session import DemoOptions, DemoSession, describe

__all__ = ["DemoOptions", "DemoSession", "describe"]
