"""Crontab lint on a real host: crontabs with every rule, scanned over SSH, then `cronops lint`.

The host `lima` runs the real Debian cron and rsyslog, so the test also reads what cron itself
made of the files lint says it rejects or ignores.
"""

from __future__ import annotations

import json

import pytest

from cronops.cli import main
from cronops.crontab import NO_FINAL_NEWLINE
from tests.conftest import logged, own_fleet, wait_for
from tests.fleet import HostSpec

pytestmark = pytest.mark.fleet

SPOOL = "/var/spool/cron/crontabs"
ROOT = (
    "CRON_TZ=Asia/Tokyo\n"
    "30 2 * * * /usr/local/bin/backup --full\n"
    "0 0 13 * 5 /usr/local/bin/friday-report\n"
    "5 4 * * * tar czf /var/backups/etc-$(date +%F).tgz /etc\n"
    "*/5 * * * * /usr/local/bin/healthcheck \\%s\n"
)
ALICE = "* * * * * echo alice runs\n# the end, with no newline"
CRON_D = {
    "app.dpkg-old": "*/10 * * * * root /opt/app/old\n",
    "broken": "# a typo Debian cron rejects\n61 * * * * root /usr/local/bin/never\n",
    "nonl": 'MAILTO=""\n*/15 * * * * root /usr/local/bin/no-newline',
}


@pytest.fixture(scope="module")
def lima(tmp_path_factory):
    spec = HostSpec(
        name="lima",
        timezone="Europe/Berlin",
        crontabs={"root": ROOT, "alice": ALICE},
        cron_d=CRON_D,
        cron=True,
        syslog="traditional",
    )
    yield from own_fleet(tmp_path_factory, "lint-fleet", spec)


def test_lint_of_a_scanned_host(lima, tmp_path, capsys):
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(lima.inventory_toml())
    db = str(tmp_path / "history.db")
    assert main(["scan", "--inventory", str(inventory), "--db", db]) == 0
    capsys.readouterr()

    assert main(["lint", "--inventory", str(inventory), "--db", db, "--format", "json"]) == 1
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert [(n["path"], n["line"], n["rule"]) for n in notes] == [
        ("/etc/cron.d/app.dpkg-old", None, "ignored-file"),
        ("/etc/cron.d/broken", 2, "rejected"),
        ("/etc/cron.d/nonl", 2, "no-final-newline"),
        (f"{SPOOL}/alice", 2, "no-final-newline"),
        (f"{SPOOL}/root", 1, "cron-tz-ignored"),
        (f"{SPOOL}/root", 2, "dst-gap"),
        (f"{SPOOL}/root", 2, "dst-repeat"),
        (f"{SPOOL}/root", 3, "days-either"),
        (f"{SPOOL}/root", 4, "percent"),
    ]
    by_rule = {(n["path"].rsplit("/", 1)[-1], n["rule"]): n for n in notes}
    # the host's own zone, from the probe: Berlin's clock changes, at the times cron runs the job
    gap, repeat = by_rule["root", "dst-gap"], by_rule["root", "dst-repeat"]
    assert gap["dates"][0].endswith("T03:00:00+02:00") and "-03-" in gap["dates"][0]
    assert repeat["dates"][0].endswith("T02:30:00+02:00") and "-10-" in repeat["dates"][0]
    assert "Europe/Berlin" in by_rule["root", "cron-tz-ignored"]["message"]
    assert by_rule["nonl", "no-final-newline"]["message"] == NO_FINAL_NEWLINE

    # What the real cron made of them: the files lint says cron rejects are ignored whole; the
    # file ending in a comment without a newline is read.
    wait_for(lambda: logged(lima.hosts["lima"], "nonl", "Missing newline before EOF"), 30, "no")
    host = lima.hosts["lima"]
    assert logged(host, "(*system*broken) ERROR (Syntax error, this crontab file will be ignored)")
    assert logged(host, "(*system*nonl) ERROR (Missing newline before EOF")
    assert not logged(host, "(alice) ERROR")
    # ...and Debian's `crontab -` refuses what lint says it refuses, and takes a last comment.
    refused = host.run(["crontab", "-u", "bob", "-"], input=CRON_D["nonl"], check=False)
    assert refused.returncode == 1 and "missing newline before EOF" in refused.stderr
    assert host.run(["crontab", "-u", "bob", "-"], input=ALICE, check=False).returncode == 0
    host.run(["crontab", "-u", "bob", "-r"])


def test_lint_finds_nothing_on_a_clean_host(lima, tmp_path, capsys):
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(lima.inventory_toml())
    db = str(tmp_path / "history.db")
    host = lima.hosts["lima"]
    saved = {path: host.path(path).read_text() for path in (f"{SPOOL}/root", f"{SPOOL}/alice")}
    try:
        host.path(f"{SPOOL}/root").write_text("*/5 * * * * /usr/local/bin/healthcheck\n")
        host.path(f"{SPOOL}/alice").write_text("0 3 * * * /home/alice/backup\n")
        for name in CRON_D:
            host.run(["mv", f"/etc/cron.d/{name}", f"/root/{name}"])
        assert main(["scan", "--inventory", str(inventory), "--db", db]) == 0
        capsys.readouterr()
        assert main(["lint", "--inventory", str(inventory), "--db", db]) == 0
        assert "Nothing to point out" in capsys.readouterr().out
    finally:
        for path, text in saved.items():
            host.path(path).write_text(text)
        for name in CRON_D:
            host.run(["mv", f"/root/{name}", f"/etc/cron.d/{name}"])


def test_a_command_not_on_crons_path_as_the_host_looks_it_up(lima, tmp_path, capsys):
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(lima.inventory_toml())
    db = str(tmp_path / "history.db")
    # the first scan learns the entries; the next looks their commands up on the host
    for _ in range(2):
        assert main(["scan", "--inventory", str(inventory), "--db", db]) == 0
    capsys.readouterr()
    assert main(["lint", "--inventory", str(inventory), "--db", db, "--format", "json"]) == 1
    notes = json.loads(capsys.readouterr().out)["notes"]
    missing = [(n["path"], n["line"]) for n in notes if n["rule"] == "not-on-path"]
    # /usr/local/bin/* are not on lima; tar is in /usr/bin, echo is the shell's own
    assert missing == [(f"{SPOOL}/root", 2), (f"{SPOOL}/root", 3), (f"{SPOOL}/root", 5)]
    backup = next(n for n in notes if n["rule"] == "not-on-path")
    assert "'/usr/local/bin/backup' in cron's default PATH (/usr/bin:/bin)" in backup["message"]
    host = lima.hosts["lima"]
    assert host.run(["sh", "-c", "command -v tar"], check=False).returncode == 0
