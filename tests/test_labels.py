"""A job's command shortened for a column: the script's name survives, paths lose their middle."""

from __future__ import annotations

import pytest

from cronops.labels import job_label, short_command


@pytest.mark.parametrize(
    ("command", "width", "shown"),
    [
        ("/usr/local/bin/vacuum-db --full", 40, "/usr/local/bin/vacuum-db --full"),
        # The directory nearest the name goes first; the first one stays.
        ("/usr/local/bin/vacuum-db --full", 29, "/usr/local/…/vacuum-db --full"),
        ("/usr/local/bin/vacuum-db --full", 22, "/usr/…/vacuum-db --fu…"),
        # Of two paths, the one with more directories left gives one up first.
        (
            "/opt/app/current/bin/backup --to /mnt/b/nightly/pg/full",
            44,
            "/opt/app/current/…/backup --to /mnt/b/…/full",
        ),
        ("run --out=/srv/data/exports/daily/x.csv", 30, "run --out=/srv/data/…/x.csv"),
        # Nothing to elide: the end goes.
        ("cd / && run-parts --report /etc/cron.hourly", 36, "cd / && run-parts --report /etc/cro…"),
        ("rsync -a /srv/ mirror:/srv/", 20, "rsync -a /srv/ mirr…"),
        ("curl -fsS https://example.com/a/b/c", 24, "curl -fsS https://examp…"),
        # Spaces and newlines fold into one line.
        ("echo   a\n  b", 40, "echo a b"),
    ],
)
def test_short_command_keeps_the_name_and_fits(command, width, shown):
    assert short_command(command, width) == shown
    assert len(shown) <= width


def test_host_text_is_shown_as_escapes_and_counted_so():
    assert short_command("printf '\x1b]0;owned\x07' >/dev/null", 80) == (
        "printf '\\x1b]0;owned\\x07' >/dev/null"
    )
    assert len(short_command("/a/b/c/\x1b" * 4, 12)) <= 12


def test_job_label_keeps_room_for_the_command_whatever_the_user():
    assert job_label("postgres", "/usr/local/bin/vacuum-db --full", 39) == (
        "postgres: /usr/local/…/vacuum-db --full"
    )
    assert job_label("u" * 40, "/usr/bin/x", 20) == "u" * 40 + ": /usr/bin/x"
