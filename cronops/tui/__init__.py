"""The cronops terminal UI: k9s for cron fleets, over the local history DB and live scans.

The only package that imports textual; the CLI reaches it through `CronopsApp`."""

from cronops.tui.app import CronopsApp

__all__ = ["CronopsApp"]
