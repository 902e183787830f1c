"""The kinds of finding, the severities and the tiers: the words the judge, the policy and every
report share, in a module that imports nothing so that each of them can import it.
"""

from __future__ import annotations

CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITIES = (CRITICAL, WARNING, INFO)  # worst first

JOB_KINDS = (
    "missed",
    "late",
    "failed",
    "too_fast",
    "slow",
    "hung",
    "overlap",
    "never_ran",
    "pause_expired",
    "lint",
    "changed",
    "drift",
    "output_lost",
)
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
# A job's findings read from its host's crontabs, not from its runs: judged with the host's own.
CRONTAB_KINDS = ("lint", "changed", "drift")

# A job's findings follow its tier (TIERS moves these, the normal tier's, a step): work that did
# not happen is critical for a critical job (it wakes someone), a warning for a normal one, info
# for a low one; work that happened badly, or a pause left in place past its `until`, is a step
# below that. A host's own findings follow no tier: they explain its jobs', and a host we cannot
# see, or whose cron is stopped, costs every job on it (critical); a host fact that makes the
# judging shakier is a warning.
DEFAULT_SEVERITY: dict[str, str] = {
    "missed": WARNING,
    "never_ran": WARNING,
    "failed": WARNING,
    # A backup that took 1 s instead of 5 min most likely did nothing: work that did not happen.
    "too_fast": WARNING,
    "hung": WARNING,
    "late": INFO,
    "slow": INFO,
    "overlap": INFO,
    "pause_expired": INFO,
    # Read from the crontabs: worth knowing, never a failure by itself. Drift in particular may
    # be deliberate (a staggered schedule, a host's own job), so it informs, it does not warn.
    "lint": INFO,
    "changed": INFO,
    "drift": INFO,
    "output_lost": INFO,  # a job failed and nobody can see what it printed
    "unreachable": CRITICAL,
    "host_key": CRITICAL,
    "auth": CRITICAL,
    "cron_not_running": CRITICAL,
    "clock_skew": WARNING,
    "logs_unreadable": WARNING,
    "crontab_errors": WARNING,
}
TIERS = {"critical": -1, "normal": 0, "low": 1}  # a job's steps along SEVERITIES

# Why a stored finding (an incident) was resolved: the judge says the first two of a finding
# still in its window (Finding.over), the lifecycle the others of a finding no longer judged.
LATER_RUN_SUCCEEDED = "a later run succeeded"
LATER_RUN_STARTED = "a later run started"  # its outcome is not known (the log writes no ends)
HOST_ANSWERED = "the host answered again"
ENTRY_PAUSED = "the entry was paused"
ENTRY_REMOVED = "the entry was removed"
ENTRY_CHANGED = "the entry was changed"
NO_LONGER_SEEN = "no longer seen"
