"""A crontab command as each cron family writes it into its log, and as cronops reads it back:
the command a run read from the log carries, for pairing the run with its entry.

Debian cron and cronie log the command as run (cut at `%`) through vixie's mkprints: a control
character becomes `^X`, DEL `^?`, a byte above 0x7e `\\ooo`, so rsyslog has nothing left to escape.
busybox logs it raw: rsyslog writes a control character but DEL as `#ooo`, 8-bit bytes as they are
(or as `#ooo` with `parser.escape8BitCharactersOnReceive`). Seen on Debian 12's cron and rsyslog:
`echo caf<e9> <01> <7f> tab<09>here` is logged `echo caf\\351 ^A ^? tab^Ihere`."""

from __future__ import annotations

from functools import lru_cache

from cronops.crontab import split_percent
from cronops.logs.vixie import command as read_command


def _mkprint(byte: int) -> str:
    """vixie cron's mkprint of one byte (misc.c, the same in Debian cron 3.0pl1 and cronie)."""
    if byte < 0x20:  # control character
        return f"^{chr(byte + 0x40)}"
    if byte == 0x7F:  # delete
        return "^?"
    if byte > 0x7F:  # "parity character"
        return f"\\{byte:03o}"
    return chr(byte)


_PRINTABLE = tuple(_mkprint(byte) for byte in range(256))
_CONTROL = bytes(range(0x20))
_EIGHT_BIT = bytes(range(0x80, 0x100))


@lru_cache(maxsize=65536)  # one call per entry per scan; a fleet repeats its commands
def as_logged(command: str) -> frozenset[str]:
    """Every form a run of `command` (as written in the crontab) takes once its log line is read:
    Debian and cronie (syslog or journal), and busybox through rsyslog with and without 8-bit
    escaping. A command of printable ASCII without `%` or `#` gives only itself."""
    written = command.encode("utf-8", "surrogateescape")
    as_run = split_percent(command)[0].encode("utf-8", "surrogateescape")
    return frozenset(
        (
            mkprints(as_run),
            read_command(_read_bytes(rsyslog_escaped(written))),
            read_command(_read_bytes(rsyslog_escaped(written, eight_bit=True))),
        )
    )


def mkprints(data: bytes) -> str:
    """What vixie cron's mkprints makes of `data` before logging it: printable ASCII only."""
    return "".join([_PRINTABLE[byte] for byte in data])


def rsyslog_escaped(data: bytes, *, eight_bit: bool = False) -> bytes:
    """A message as rsyslog stores it by default: each control character but DEL as `#ooo`
    (a tab is `#011`); with `eight_bit`, every byte above 0x7f too."""
    escaped = _CONTROL + _EIGHT_BIT if eight_bit else _CONTROL
    return b"".join([b"#%03o" % byte if byte in escaped else bytes((byte,)) for byte in data])


def _read_bytes(line: bytes) -> str:
    # As the scan reads log bytes: UTF-8, an invalid byte replaced.
    return line.decode("utf-8", "replace")
