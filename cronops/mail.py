"""The mail cron sends with a job's output, read from a local mailbox (/var/mail/USER, mbox).

Pure: mbox bytes in, the cron mails in them out (who, which command, when, the output's tail);
Debian cron and cronie write `Subject: Cron <user@host> command`, and Debian adds ` (failed)`."""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header
from email.utils import parsedate_to_datetime

MAILBOXES = "/var/mail"
# A message starts at a `From SENDER DATE` line (`From alice@vm Fri Dec  4 12:54:01 2026`) at
# the start of the mailbox or after a blank line: a body's own `From ` line that an MTA left
# unquoted has no date after its second word.
_SEPARATOR = re.compile(
    rb"(?:\A|\n\n)From \S+ +[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d{1,2}:\d{2}[^\n]*\n"
)
_SUBJECT = re.compile(r"Cron <([^@>]*)@([^>]*)> (.*?)(?: \(failed\))?", re.DOTALL)
_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


# What Debian cron logs, as `(CRON) info (...)`, when it has no sendmail to mail output with.
NO_MTA = "No MTA installed, discarding output"
# A command's output sent nowhere: stdout to /dev/null, then stderr to it too (2>&1 after it,
# or 2>/dev/null), or both at once (&>/dev/null, bash's).
_NULL = r"\s*/dev/null\b"
_STDOUT_NULL = re.compile(rf"(?:^|[^0-9&>])1?>{_NULL}")
_STDERR_NULL = re.compile(rf"2>{_NULL}")
_BOTH_NULL = re.compile(rf"&>{_NULL}")


def output_discarded(
    command: str, mailto: str | None, no_mta_at: datetime | None, failed_at: datetime
) -> str | None:
    """Why nobody sees what a job that failed at `failed_at` printed, or None when its output
    goes somewhere (or it cannot be told)."""
    if mailto is not None and mailto.strip() in ("", '""', "''"):
        return 'MAILTO="" above it: cron mails its output to nobody'
    stdout = _STDOUT_NULL.search(command)
    if _BOTH_NULL.search(command) or (
        stdout is not None and (_STDERR_NULL.search(command) or "2>&1" in command[stdout.end() :])
    ):
        return "its command sends stdout and stderr to /dev/null"
    if no_mta_at is not None and no_mta_at >= failed_at:
        return f'the host has no MTA: cron logs "{NO_MTA}"'
    return None


@dataclass(frozen=True)
class CronMail:
    """One mail cron sent with a run's output."""

    user: str  # whose job (the subject's user)
    host: str  # the host name in the subject (cut at its first dot)
    command: str  # as the subject gives it
    sent_at: datetime  # its Date header, UTC
    failed: bool  # Debian's " (failed)" on the subject
    size: int  # the output's length in bytes
    tail: bytes  # its last bytes (at most the tail asked for)


def cron_mails(mbox: bytes, tail_bytes: int) -> Iterator[CronMail]:
    """The cron mails among a mailbox's messages (other mail is passed over), in order. A
    message cut short (the mailbox still being written) is read as far as it goes."""
    for message in split_mbox(mbox):
        mail = cron_mail(message, tail_bytes)
        if mail is not None:
            yield mail


def split_mbox(mbox: bytes) -> list[bytes]:
    """The messages of an mbox, each without its `From ` line."""
    separators = list(_SEPARATOR.finditer(mbox))
    if not separators:  # new bytes with no message start in them: nothing to read yet
        return []
    ends = [*(match.start() for match in separators[1:]), len(mbox)]
    return [mbox[sep.end() : end] for sep, end in zip(separators, ends, strict=True)]


def cron_mail(message: bytes, tail_bytes: int) -> CronMail | None:
    """One message -> a CronMail, or None when it is not one cron sent (or has no Date)."""
    head, _, body = message.replace(b"\r\n", b"\n").partition(b"\n\n")
    headers = _headers(head)
    subject = _SUBJECT.fullmatch(headers.get("subject", ""))
    if subject is None:
        return None
    try:
        sent = parsedate_to_datetime(headers.get("date", ""))
    except (TypeError, ValueError):
        return None
    if sent.tzinfo is None:  # "-0000": no zone known; RFC 5322 reads it as UTC
        sent = sent.replace(tzinfo=UTC)
    output = _body(body, headers.get("content-transfer-encoding", ""))
    user, host, command = subject.groups()
    return CronMail(
        user=user,
        host=host.split(".", 1)[0],
        command=command,
        sent_at=sent.astimezone(UTC),
        failed=headers["subject"].endswith(" (failed)"),
        size=len(output),
        tail=output[-tail_bytes:] if tail_bytes > 0 else b"",
    )


def _headers(head: bytes) -> dict[str, str]:
    """The first of each header, unfolded, encoded words decoded, raw 8-bit kept as UTF-8 (with
    surrogate escapes for bytes that are not)."""
    headers: dict[str, str] = {}
    name = ""
    for line in head.decode("utf-8", "surrogateescape").split("\n"):
        if line[:1] in (" ", "\t") and name:
            headers[name] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name in headers:
                name = ""  # a repeated header: the first one counts
            else:
                headers[name] = value.strip()
        else:
            name = ""
    return {key: _decoded(value) for key, value in headers.items()}


def _decoded(value: str) -> str:
    if "=?" not in value:
        return value
    try:
        parts = decode_header(value)
    except (ValueError, UnicodeError):
        return value
    return "".join(
        text.decode(charset or "utf-8", "replace") if isinstance(text, bytes) else text
        for text, charset in parts
    )


def _body(body: bytes, encoding: str) -> bytes:
    """The output as the job wrote it: mbox's `>From ` quoting undone, a transfer encoding
    decoded; the bytes themselves are kept (the terminal shows them escaped). Its last line
    ends without a newline: the mbox adds a blank line after each message, so how many the
    output had is not known."""
    body = _QUOTED_FROM.sub(rb"\1", body.rstrip(b"\n"))
    encoding = encoding.strip().lower()
    if encoding == "base64":
        try:
            return base64.b64decode(body, validate=False)
        except (binascii.Error, ValueError):
            return body
    if encoding == "quoted-printable":
        return quopri.decodestring(body)
    return body
