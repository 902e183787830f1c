"""The mail cron sends with a job's output, read from an mbox as Debian's dma and others write it.

The first message is the one dma delivered on the test fleet (headers as written, the Received
lines folded); others are the variants: cronie's subject, encodings, quoted From lines, mail that
is not cron's, a mailbox cut in the middle of a message.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cronops.mail import cron_mail, cron_mails, output_discarded, split_mbox
from cronops.visible import visible

DMA = (
    b"From alice@vm Fri Dec  4 12:54:01 2026\n"
    b"Received: from alice (uid 1001)\n"
    b"\t(envelope-from alice@vm)\n"
    b"\tid 23a9bb\n"
    b"\tby vm (DragonFly Mail Agent v0.13);\n"
    b"\tFri, 04 Dec 2026 12:54:01 +0000\n"
    b"From: root (Cron Daemon)\n"
    b"To: alice\n"
    b"Subject: Cron <alice@mailer> echo out; echo 'caf\xc3\xa9' >&2; exit 3 (failed)\n"
    b"MIME-Version: 1.0\n"
    b"Content-Type: text/plain; charset=US-ASCII\n"
    b"Content-Transfer-Encoding: 8bit\n"
    b"X-Cron-Env: <SHELL=/bin/sh>\n"
    b"X-Cron-Env: <PATH=/usr/bin:/bin>\n"
    b"Date: Fri, 04 Dec 2026 12:54:01 +0000\n"
    b"Message-Id: <6b12b7e9.23a9bb.7f3a1917@vm>\n"
    b"\n"
    b"out\n"
    b">From the job\n"
    b"caf\xc3\xa9 \xff \x1b[2J\n"
    b"\n"
)
OTHER = (
    b"From bob@vm Fri Dec  4 12:55:00 2026\n"
    b"Subject: lunch?\n"
    b"Date: Fri, 04 Dec 2026 12:55:00 +0000\n"
    b"\n"
    b"From the kitchen\n"
    b"\n"
)
CRONIE = (
    b"From root@db1.example.com Fri Dec  4 13:00:01 2026\n"
    b"Subject: Cron <root@db1.example.com> /usr/local/bin/backup --full\n"
    b"Date: Fri, 4 Dec 2026 14:00:01 +0100\n"
    b"Content-Transfer-Encoding: quoted-printable\n"
    b"\n"
    b"backup: disk =\n"
    b"full =E2=80=94 giving up\n"
    b"\n"
)


def test_split_an_mbox_at_its_from_lines_only():
    messages = split_mbox(DMA + OTHER + CRONIE)
    assert len(messages) == 3
    assert messages[0].startswith(b"Received: from alice")
    assert b">From the job" in messages[0]  # quoted in the body: not a message of its own
    assert messages[1].endswith(b"\n\nFrom the kitchen")  # left unquoted, but not dated


def test_bytes_without_a_from_line_hold_no_message():
    # New bytes of a mailbox that begin inside a message (or a file that is no mbox at all).
    assert split_mbox(b"the rest of a message\nno From line here\n") == []
    assert split_mbox(b"") == []


def test_the_mail_dma_delivered_for_a_failed_run():
    (mail,) = cron_mails(DMA + OTHER, 4096)
    assert (mail.user, mail.host, mail.failed) == ("alice", "mailer", True)
    assert mail.command == "echo out; echo 'café' >&2; exit 3"
    assert mail.sent_at == datetime(2026, 12, 4, 12, 54, 1, tzinfo=UTC)
    # the bytes as the job wrote them: quoting undone, UTF-8 and raw bytes kept
    assert mail.tail == b"out\nFrom the job\ncaf\xc3\xa9 \xff \x1b[2J"
    assert mail.size == len(mail.tail)


def test_cronies_mail_host_cut_at_its_first_dot_and_encodings_decoded():
    (mail,) = cron_mails(CRONIE, 4096)
    assert (mail.user, mail.host, mail.failed) == ("root", "db1", False)
    assert mail.command == "/usr/local/bin/backup --full"
    assert mail.sent_at == datetime(2026, 12, 4, 13, 0, 1, tzinfo=UTC)
    assert mail.tail.decode() == "backup: disk full — giving up"
    base64 = CRONIE.replace(b"quoted-printable", b"base64").replace(
        b"backup: disk =\nfull =E2=80=94 giving up", b"b3V0cHV0\n"
    )
    assert next(cron_mails(base64, 4096)).tail == b"output"


def test_the_tail_is_bounded_and_its_size_kept():
    body = b"".join(b"line %d\n" % n for n in range(1000))
    message = CRONIE.replace(b"quoted-printable", b"8bit").split(b"\n\n")[0] + b"\n\n" + body
    mail = cron_mail(message.split(b"\n", 1)[1], 64)
    assert len(mail.tail) == 64 and mail.tail.endswith(b"line 999")
    assert mail.size == len(body.rstrip(b"\n"))
    assert cron_mail(message.split(b"\n", 1)[1], 0).tail == b""


def test_an_encoded_subject_and_no_date():
    encoded = CRONIE.replace(
        b"Subject: Cron <root@db1.example.com> /usr/local/bin/backup --full",
        b"Subject: =?UTF-8?Q?Cron_<root@db1>_echo_caf=C3=A9?=",
    )
    assert next(cron_mails(encoded, 10)).command == "echo café"
    undated = CRONIE.replace(b"Date: Fri, 4 Dec 2026 14:00:01 +0100\n", b"")
    assert list(cron_mails(undated, 10)) == []


def test_a_mailbox_cut_inside_a_message_reads_what_is_there():
    cut = DMA[: DMA.index(b"caf\xc3\xa9 \xff")]
    (mail,) = cron_mails(cut, 4096)
    assert mail.tail == b"out\nFrom the job"
    headers_only = DMA[: DMA.index(b"Date:")]
    assert list(cron_mails(headers_only, 4096)) == []


def test_the_output_shows_escaped():
    (mail,) = cron_mails(DMA, 4096)
    text = mail.tail.decode("utf-8", "surrogateescape")
    assert visible(text, lines=True) == "out\nFrom the job\ncafé \\xff \\x1b[2J"


# -- output nobody sees ------------------------------------------------------------------------

FAILED_AT = datetime(2026, 12, 4, 12, 54, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("command", "mailto", "why"),
    [
        ("backup", "", 'MAILTO="" above it'),
        ("backup > /dev/null 2>&1", None, "stdout and stderr to /dev/null"),
        ("backup >/dev/null 2>/dev/null", None, "stdout and stderr to /dev/null"),
        ("backup &>/dev/null", None, "stdout and stderr to /dev/null"),
        ("backup 1>/dev/null 2>&1", None, "stdout and stderr to /dev/null"),
    ],
)
def test_output_thrown_away(command, mailto, why):
    assert why in output_discarded(command, mailto, None, FAILED_AT)


@pytest.mark.parametrize(
    "command",
    [
        "backup",
        "backup >/dev/null",
        "backup 2>&1 >/dev/null",
        "backup 2>/dev/null",
        "x >/dev/nullx",
    ],
)
def test_output_that_still_reaches_the_mail(command):
    # stderr still goes to cron's mail (2>&1 before the redirection points at the old stdout)
    assert output_discarded(command, "ops@example.com", None, FAILED_AT) is None


def test_no_mta_since_the_failure():
    later, earlier = FAILED_AT.replace(second=2), FAILED_AT.replace(minute=0)
    assert "no MTA" in output_discarded("backup", None, later, FAILED_AT)
    assert output_discarded("backup", None, earlier, FAILED_AT) is None
