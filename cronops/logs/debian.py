"""Debian and Ubuntu cron (vixie cron with Debian's -L patch): syslog messages -> LogEvents.

Every -L level: CMD with or without "[jobpid] ", END, the grandchild failure lines, daemon lines."""

from __future__ import annotations

import re
from datetime import datetime
from sys import intern

from cronops.logs import vixie
from cronops.logs.events import LogEvent, job_event, new_event

NAME = "debian"
# The daemon logs as its argv[0]; its children upshift it (CAPITALIZE_FOR_PS), path and all on old
# releases (squeeze logged /USR/SBIN/CRON[pid]).
TAGS = frozenset({"CRON", "cron", "/USR/SBIN/CRON", "/usr/sbin/cron", "crontab"})

_JOB_KINDS = {"CMD": ("start", "CMD"), "END": ("end", "END")}  # kind, and one shared keyword
_GRANDCHILD = re.compile(
    r"grandchild #(\d+) "
    r"(?:failed with exit status (\d+)|terminated by signal (\d+)(, dumped core)?)"
)


def parse_parts(
    parts: vixie.Parts, at: datetime, pid: int | None, host: str, source: str = NAME
) -> LogEvent | None:
    """A message already split by the vixie grammar -> an event, or None when unknown."""
    user, keyword, jobpid, detail, _ = parts
    job = _JOB_KINDS.get(keyword)
    if job is not None:
        # With -L 8 the middle cron process logs "[jobpid] command". Without it CMD comes from
        # the job's own process, so its syslog pid is the job pid (END's is the middle process's).
        # Logged through mkprints, no control character is left for rsyslog to escape: a "#011"
        # here is the command's own text.
        command = intern(detail)
        jobpid_number = pid if jobpid is None else int(jobpid)
        return job_event(
            at, job[0], intern(user), command, jobpid_number, pid, host, source, NAME, job[1]
        )
    if keyword == "error" and jobpid is None:
        failure = _GRANDCHILD.fullmatch(detail)
        if failure is not None:
            return _failure(failure, at, pid, host, source)
    return vixie.other_line(parts, at, pid, host, source, NAME)


def _failure(
    failure: re.Match[str], at: datetime, pid: int | None, host: str, source: str
) -> LogEvent:
    # Logged by the middle process under its own pid; "#jobpid" is what ties it to the CMD line.
    jobpid, status, signal, core = failure.groups()
    return new_event(
        at,
        "failed" if status is not None else "signal",
        None,
        None,
        int(jobpid),
        status=None if status is None else int(status),
        signal=None if signal is None else int(signal),
        core_dumped=core is not None,
        detail=failure[0],
        source=source,
        dialect=NAME,
        keyword="error",
        process_pid=pid,
        host=host,
    )


# One message (the text after `CRON[pid]: `) -> an event, IGNORED, or None when unknown.
parse = vixie.message_parser(parse_parts, NAME)
