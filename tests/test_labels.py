"""A job's command shortened for a column: the script's name survives, paths lose their middle."""

from __future__ import annotations

import pytest

from cronops.labels import short_command, short_job, size


@pytest.mark.parametrize(
    ("command", "width", "shown"),
    [
        ("/usr/local/bin/vacuum-db --full", 40, "/usr/local/bin/vacuum-db --full"),
        # The directory nearest the name goes first; the first one stays.
        ("/usr/local/bin/vacuum-db --full", 29, "/usr/local/…/vacuum-db --full"),
        # Then the first directory: the whole line still tells the job.
        ("/usr/local/bin/vacuum-db --full", 22, "…/vacuum-db --full"),
        ("/usr/local/bin/vacuum-db --full", 16, "…/vacuum-db --f…"),
        # Of two paths, the one with more directories left gives one up first.
        (
            "/opt/app/current/bin/backup --to /mnt/b/nightly/pg/full",
            44,
            "/opt/app/current/…/backup --to /mnt/b/…/full",
        ),
        ("run --out=/srv/data/exports/daily/x.csv", 30, "run --out=/srv/data/…/x.csv"),
        ("run --out=/srv/data/exports/daily/x.csv", 18, "run --out=/…/x.csv"),
        # Nothing left to elide: the end goes.
        ("cd / && run-parts --report /etc/cron.hourly", 36, "cd / && run-parts --report …/cron.h…"),
        ("rsync -a /srv/ mirror:/srv/", 20, "rsync -a /srv/ mirr…"),
        ("curl -fsS https://example.com/a/b/c", 24, "curl -fsS https://examp…"),
        # Spaces and newlines fold into one line.
        ("echo   a\n  b", 40, "echo a b"),
    ],
)
def test_short_command_keeps_the_name_and_fits(command, width, shown):
    assert short_command(command, width) == shown
    assert len(shown) <= width


def test_a_job_is_shown_as_visible_text_and_its_escapes_count_in_the_width():
    assert short_job("root", "printf '\x1b]0;owned\x07' >/dev/null", 80) == (
        "root: printf '\\x1b]0;owned\\x07' >/dev/null"
    )
    shown = short_job("r\u202e", "/a/b/c/\x1b" * 4, 24)
    assert shown.startswith("r\\u202e: ") and len(shown) <= 24 and shown.isprintable()


def test_job_label_keeps_room_for_the_command_whatever_the_user():
    assert short_job("postgres", "/usr/local/bin/vacuum-db --full", 39) == (
        "postgres: /usr/local/…/vacuum-db --full"
    )
    assert short_job("u" * 40, "/usr/bin/x", 20) == "u" * 40 + ": /usr/bin/x"


def test_a_size_in_one_unit():
    assert [size(n) for n in (0, 512, 999, 1000, 1500, 14_000, 999_999, 2_300_000)] == [
        "0 B",
        "512 B",
        "999 B",
        "1.0 kB",
        "1.5 kB",
        "14 kB",
        "1.0 MB",
        "2.3 MB",
    ]
