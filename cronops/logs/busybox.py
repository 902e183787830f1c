"""busybox crond (Alpine): syslog messages -> LogEvents.

busybox logs only starts (`USER root pid  12 cmd ...`) and overlaps (`process already running`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from sys import intern

from cronops.logs import vixie
from cronops.logs.events import IGNORED, Ignored, LogEvent, new_event

NAME = "busybox"
TAGS = frozenset({"crond"})

_START = re.compile(r"USER (\S+) pid +(-?\d+) cmd (.*)", re.DOTALL)  # pid is "%3d"
_OVERLAP = re.compile(r"user (\S+): process already running: (.*)", re.DOTALL)
_USER_ERROR = re.compile(r"user (\S+): (?:parse error at .*|too many lines)", re.DOTALL)
# Its log level 5 (crond -l 5 / -d 5) traces every wakeup; known, and of no use to a run history.
_DEBUG = ("file ", " line ", " job: ", " command:", "wakeup dt=", "child running ", "user:")
_ERRORS = ("can't ", "ignoring file ", "chdir(", "time disparity of ")
_APPLET = "crond: "  # info messages repeat the applet name inside the message


def parse(
    message: str, at: datetime, pid: int | None, host: str, source: str = NAME
) -> LogEvent | Ignored | None:
    """One message (the text after `crond[pid]: `) -> an event, IGNORED, or None when unknown."""
    if message.startswith(_APPLET):
        message = message[len(_APPLET) :]
    line = _Line(at, pid, host, source)
    if message.startswith("USER "):
        return _start(message, line)
    if message.startswith("user "):
        return _user_line(message, line)
    if message.startswith(_DEBUG):
        return IGNORED
    if message.startswith("crond (busybox ") and "started" in message:
        return line.event("daemon", detail=message, keyword="STARTUP")
    if message.startswith(_ERRORS):
        return line.event("error", detail=message)
    return None


@dataclass(frozen=True, slots=True)
class _Line:
    """Where a message came from: what every event of this family repeats."""

    at: datetime
    pid: int | None  # crond's own pid
    host: str
    source: str

    def event(
        self,
        kind: str,
        *,
        user: str | None = None,
        text: str | None = None,
        jobpid: int | None = None,
        detail: str = "",
        keyword: str = "",
    ) -> LogEvent:
        return new_event(
            self.at,
            kind,
            None if user is None else intern(user),
            None if text is None else vixie.command(text),
            self.pid if jobpid is None else jobpid,
            detail=detail,
            source=self.source,
            dialect=NAME,
            keyword=keyword,
            process_pid=self.pid,
            host=self.host,
        )


def _start(message: str, line: _Line) -> LogEvent | None:
    match = _START.fullmatch(message)
    if match is None:
        return None
    user, jobpid, text = match.groups()
    if int(jobpid) <= 0:  # the fork failed: nothing ran
        return line.event("error", user=user, text=text, detail=message, keyword="USER")
    return line.event("start", user=user, text=text, jobpid=int(jobpid), keyword="USER")


def _user_line(message: str, line: _Line) -> LogEvent | None:
    match = _OVERLAP.fullmatch(message)
    if match is not None:
        user, text = match.groups()
        return line.event("overlap", user=user, text=text, detail=message)
    match = _USER_ERROR.fullmatch(message)
    if match is not None:
        return line.event("error", user=match[1], detail=message)
    return None
