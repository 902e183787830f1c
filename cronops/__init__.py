"""cronops: agentless operations for a fleet of cron hosts.

The core (everything outside ``cronops.tui``) is importable without Textual.
"""

__version__ = "0.1.0"
