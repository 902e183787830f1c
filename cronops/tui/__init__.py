"""The cronops terminal UI: k9s for cron fleets, over the local history DB and live scans.

The only package that imports textual; the CLI reaches it through `make_app`."""

from cronops.tui.app import CronopsApp, make_app

__all__ = ["CronopsApp", "make_app"]
