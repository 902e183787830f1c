"""cronie (RHEL, Fedora, Rocky, Arch; /var/log/cron): syslog messages -> LogEvents.

CMD, CMDEND (cronie >= 1.5.6), CMDOUT (crond -s), the PAM failure, daemon lines; no exit status."""

from __future__ import annotations

from datetime import datetime
from sys import intern

from cronops.logs import vixie
from cronops.logs.events import LogEvent, job_event
from cronops.logs.syslog import unescape

NAME = "cronie"
TAGS = frozenset({"CROND", "crond", "/USR/SBIN/CROND", "/usr/sbin/crond", "crontab"})

# CMD comes from the job's own process (pid = job pid); CMDOUT and CMDEND from its parent, the
# middle crond process, whose pid differs: pairing them is runs.py's business.
_JOB_KINDS = {"CMD": "start", "CMDEND": "end", "CMDOUT": "output"}


def parse_parts(
    parts: vixie.Parts, at: datetime, pid: int | None, host: str, source: str = NAME
) -> LogEvent | None:
    """A message already split by the vixie grammar -> an event, or None when unknown."""
    user, keyword, jobpid, detail, _ = parts
    kind = _JOB_KINDS.get(keyword)
    if kind is None:
        return vixie.other_line(parts, at, pid, host, source, NAME)
    text = vixie.whole_detail(jobpid, detail)  # cronie never logs a job pid in the text
    # Commands are logged through mkprints (nothing left for rsyslog to escape); output raw.
    command, output = (None, unescape(text)) if kind == "output" else (intern(text), "")
    keyword = intern(keyword)
    return job_event(at, kind, intern(user), command, pid, pid, host, source, NAME, keyword, output)


# One message (the text after `CROND[pid]: `) -> an event, IGNORED, or None when unknown.
parse = vixie.message_parser(parse_parts, NAME)
