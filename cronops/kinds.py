"""The kinds of finding, the severities and the tiers: the words the judge, the policy and every
report share, in a module that imports nothing so that each of them can import it.
"""

from __future__ import annotations

CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITIES = (CRITICAL, WARNING, INFO)  # worst first

JOB_KINDS = ("missed", "late", "failed", "slow", "hung", "overlap", "never_ran", "pause_expired")
HOST_KINDS = (
    "unreachable",
    "host_key",
    "auth",
    "cron_not_running",
    "clock_skew",
    "logs_unreadable",
    "crontab_errors",
)
KINDS = JOB_KINDS + HOST_KINDS

# Work that did not happen, and hosts we cannot see, cost data: critical. Work that happened
# badly, a pause left in place past its `until`, or a host fact that makes the judging shakier,
# is a warning.
DEFAULT_SEVERITY: dict[str, str] = {
    "missed": CRITICAL,
    "never_ran": CRITICAL,
    "failed": CRITICAL,
    "hung": CRITICAL,
    "late": WARNING,
    "slow": WARNING,
    "overlap": WARNING,
    "pause_expired": WARNING,
    "unreachable": CRITICAL,
    "host_key": CRITICAL,
    "auth": CRITICAL,
    "cron_not_running": CRITICAL,
    "clock_skew": WARNING,
    "logs_unreadable": WARNING,
    "crontab_errors": WARNING,
}
TIERS = {"critical": -1, "normal": 0, "low": 1}  # steps along SEVERITIES
