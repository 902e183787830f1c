"""Self-tests of the cron test fleet (tests/fleet.py), using only the OpenSSH client binary.
They prove each host is isolated (name, zone, crontabs, processes, logs) and that live cron logs.
"""

from __future__ import annotations

import re
import subprocess
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

try:
    from tests.fleet import (
        Fleet,
        FleetHost,
        HostSpec,
        free_port,
        require_fleet_tools,
        silent_listener,
    )
except ModuleNotFoundError:  # tests/ is not a package and pytest put tests/ itself on sys.path
    from fleet import (  # type: ignore[no-redef]
        Fleet,
        FleetHost,
        HostSpec,
        free_port,
        require_fleet_tools,
        silent_listener,
    )

SKIP_REASON = require_fleet_tools()
pytestmark = [
    pytest.mark.fleet,
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]

ALICE_CRONTAB = '# alice\'s first comment is hidden by crontab -l\nMAILTO=""\n30 2 * * 1-5 /home/alice/report.sh\n'
ROOT_GAMMA = "15 3 * * * /usr/local/bin/backup --all\n"
CRON_D_BACKUP = "SHELL=/bin/sh\n0 1 * * * root /usr/local/bin/rotate\n"
OLD_SYSLOG = "Nov  1 06:25:01 gamma CRON[4242]: (root) CMD (test -x /usr/sbin/anacron)\n"

SPECS = [
    HostSpec(
        "alpha",
        timezone="UTC",
        cron=True,
        cron_level=15,
        syslog="traditional",
        crontabs={
            "root": (
                "* * * * * echo alpha-ran >> /var/log/job.out\n"
                "* * * * * exit 3\n"
                "* * * * * echo alpha-mail\n"
            )
        },
    ),
    HostSpec(
        "beta",
        timezone="America/New_York",
        cron=True,
        syslog="rfc3339",
        mta=False,
        crontabs={"root": "* * * * * echo beta-ran >> /var/log/job.out; echo beta-out\n"},
    ),
    HostSpec(
        "gamma",
        timezone="Europe/Berlin",
        crontabs={"root": ROOT_GAMMA, "alice": ALICE_CRONTAB},
        cron_d={"backup": CRON_D_BACKUP},
        log_files={"syslog.1": OLD_SYSLOG},
    ),
]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory):
    f = Fleet(tmp_path_factory.mktemp("fleet"))
    started = time.monotonic()
    f.start(SPECS)
    # the fleet must stay cheap enough to start in every session
    assert time.monotonic() - started < 5
    yield f
    f.stop()


def ssh(
    fleet: Fleet,
    host: FleetHost | str,
    command: str,
    user: str = "root",
    known_hosts: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    argv = fleet.ssh_command(host, command, user=user, known_hosts=known_hosts)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def ok(fleet: Fleet, host: str, command: str, user: str = "root") -> str:
    r = ssh(fleet, host, command, user=user)
    assert r.returncode == 0, r.stderr
    return r.stdout


def zone_abbreviation(zone: str) -> str:
    return datetime.now(ZoneInfo(zone)).strftime("%Z")


def test_each_host_has_its_name_and_zone(fleet: Fleet) -> None:
    for spec in SPECS:
        out = ok(fleet, spec.name, "hostname; date +%Z; cat /etc/timezone; TZ=UTC date +%Z")
        assert out.split() == [spec.name, zone_abbreviation(spec.timezone), spec.timezone, "UTC"]


def test_localtime_is_a_debian_style_symlink(fleet: Fleet) -> None:
    assert ok(fleet, "gamma", "readlink /etc/localtime").strip() == (
        "/usr/share/zoneinfo/Europe/Berlin"
    )


def test_known_hosts_pins_each_host_key(fleet: Fleet, tmp_path: Path) -> None:
    wrong = fleet.write_known_hosts(
        tmp_path / "known_hosts", overrides={"alpha": fleet.hosts["gamma"].host_public_key}
    )
    r = ssh(fleet, "alpha", "true", known_hosts=wrong)
    assert r.returncode == 255
    assert "Host key verification failed" in r.stderr
    assert ssh(fleet, "beta", "true", known_hosts=wrong).returncode == 0


def test_user_crontabs_are_per_host(fleet: Fleet) -> None:
    assert ok(fleet, "gamma", "cat /var/spool/cron/crontabs/alice") == ALICE_CRONTAB
    listed = ok(fleet, "gamma", "crontab -l -u alice")
    assert listed == ALICE_CRONTAB.split("\n", 1)[1]
    assert ok(fleet, "gamma", "crontab -l", user="alice") == listed
    r = ssh(fleet, "alpha", "LC_ALL=C crontab -l -u alice")
    assert r.returncode == 1
    assert "no crontab for alice" in r.stderr
    assert "alpha-ran" in ok(fleet, "alpha", "crontab -l")


def test_spool_has_debian_ownership_and_modes(fleet: Fleet) -> None:
    out = ok(fleet, "gamma", "cd /var/spool/cron/crontabs && stat -c '%n %a %U %G' . alice root")
    assert out.splitlines() == [
        ". 1730 root crontab",
        "alice 600 alice crontab",
        "root 600 root crontab",
    ]


def test_system_crontab_and_cron_d_are_per_host(fleet: Fleet) -> None:
    assert ok(fleet, "gamma", "ls -A /etc/cron.d").split() == ["backup"]
    assert ok(fleet, "gamma", "cat /etc/cron.d/backup") == CRON_D_BACKUP
    assert ok(fleet, "alpha", "ls -A /etc/cron.d") == ""
    assert "run-parts --report /etc/cron.hourly" in ok(fleet, "alpha", "cat /etc/crontab")


def test_etc_crontab_rename_stays_inside_the_host(fleet: Fleet) -> None:
    real = Path("/etc/crontab").read_text()
    gamma = fleet.hosts["gamma"]
    before = gamma.path("/etc/crontab").read_text()
    # what an editor does on a real host: temp file in the same directory, then rename
    ok(
        fleet,
        "gamma",
        "cp /etc/crontab /etc/.crontab.new && echo '# edited' >> /etc/.crontab.new"
        " && mv /etc/.crontab.new /etc/crontab",
    )
    try:
        assert gamma.path("/etc/crontab").read_text() == before + "# edited\n"
        assert Path("/etc/crontab").read_text() == real
        assert not Path("/etc/.crontab.new").exists()
        assert "# edited" not in ok(fleet, "alpha", "cat /etc/crontab")
    finally:
        gamma.path("/etc/crontab").write_text(before)


def test_logs_are_per_host(fleet: Fleet) -> None:
    assert ok(fleet, "gamma", "cat /var/log/syslog.1") == OLD_SYSLOG
    assert ssh(fleet, "alpha", "test -e /var/log/syslog.1").returncode == 1
    assert fleet.hosts["gamma"].path("/var/log/syslog.1").read_text() == OLD_SYSLOG


def test_ps_shows_only_the_hosts_own_processes(fleet: Fleet) -> None:
    def commands(host: str) -> list[str]:
        return ok(fleet, host, "ps -e -o comm=").split()

    alpha, beta, gamma = commands("alpha"), commands("beta"), commands("gamma")
    assert alpha.count("rsyslogd") == 1 and "cron" in alpha
    assert beta.count("rsyslogd") == 1 and "cron" in beta
    assert "rsyslogd" not in gamma and "cron" not in gamma
    # sshd, its session child and the shell running ps: nothing from other hosts
    assert len(gamma) < 8
    assert ok(fleet, "gamma", "ps -o comm= -p 1").strip() == "sshd"


def test_run_enters_the_host(fleet: Fleet) -> None:
    gamma = fleet.hosts["gamma"]
    assert gamma.run(["crontab", "-l", "-u", "alice"]).stdout == ALICE_CRONTAB.split("\n", 1)[1]
    assert gamma.run("hostname; id -un", user="alice").stdout.split() == ["gamma", "alice"]
    assert gamma.run("date +%Z").stdout.strip() == zone_abbreviation("Europe/Berlin")
    assert gamma.run(["false"], check=False).returncode == 1


def test_cron_can_be_stopped_and_started(fleet: Fleet) -> None:
    gamma = fleet.hosts["gamma"]
    assert not gamma.cron_running()
    gamma.start_cron()
    try:
        assert gamma.cron_running()
        assert "cron" in ok(fleet, "gamma", "ps -e -o comm=").split()
    finally:
        gamma.stop_cron()
    assert not gamma.cron_running()
    assert fleet.hosts["alpha"].cron_running()


def test_inventory_toml(fleet: Fleet) -> None:
    text = fleet.inventory_toml(
        extra_defaults={"connect_timeout": 2, "note": 'quote " backslash \\ tab \t'},
        extra_hosts=[
            {"name": "down", "address": "127.0.0.1", "port": 1, "tags": ["x", "y"], "on": False}
        ],
    )
    inv = tomllib.loads(text)
    assert inv["defaults"] == {
        "user": "root",
        "identity_file": str(fleet.client_key),
        "known_hosts": str(fleet.known_hosts),
        "connect_timeout": 2,
        "note": 'quote " backslash \\ tab \t',
    }
    names = [h["name"] for h in inv["hosts"]]
    assert names == ["alpha", "beta", "gamma", "down"]
    assert inv["hosts"][0] == {
        "name": "alpha",
        "address": "127.0.0.1",
        "port": fleet.hosts["alpha"].port,
    }
    assert inv["hosts"][3]["tags"] == ["x", "y"] and inv["hosts"][3]["on"] is False
    only = tomllib.loads(fleet.inventory_toml(hosts=["beta"]))
    assert [h["name"] for h in only["hosts"]] == ["beta"]


def test_silent_listener_times_out_and_free_port_refuses(fleet: Fleet) -> None:
    port, close = silent_listener()
    try:
        argv = fleet.ssh_command("alpha", "true")
        argv[argv.index("-p") + 1] = str(port)
        argv[argv.index("ConnectTimeout=5")] = "ConnectTimeout=1"
        started = time.monotonic()
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert r.returncode == 255
        assert "timed out" in r.stderr
        assert time.monotonic() - started < 5
    finally:
        close()
    argv[argv.index("-p") + 1] = str(free_port())
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert r.returncode == 255
    assert "Connection refused" in r.stderr


# Runs last: by then most of the minute cron needs has already passed.
def test_live_cron_runs_jobs_and_rsyslog_logs_them(fleet: Fleet) -> None:
    alpha, beta = fleet.hosts["alpha"], fleet.hosts["beta"]
    trad_cmd = re.compile(
        r"^(?P<ts>[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d) alpha CRON\[\d+\]: "
        r"\(root\) CMD \(\[(?P<job>\d+)\] echo alpha-ran >> /var/log/job\.out\)$",
        re.MULTILINE,
    )
    rfc_cmd = re.compile(
        r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d) beta CRON\[\d+\]: "
        r"\(root\) CMD \(echo beta-ran >> /var/log/job\.out; echo beta-out\)$",
        re.MULTILINE,
    )
    alpha_wanted = [
        trad_cmd,
        re.compile(r"alpha CRON\[\d+\]: \(root\) END \(\[\d+\] echo alpha-ran"),
        re.compile(
            r"alpha CRON\[\d+\]: \(CRON\) error \(grandchild #\d+ failed with exit status 3\)"
        ),
    ]
    beta_wanted = [rfc_cmd, re.compile(r"beta CRON\[\d+\]: \(CRON\) info \(No MTA installed")]

    def syslog(host: FleetHost) -> str:
        p = host.path("/var/log/syslog")
        return p.read_text() if p.exists() else ""

    deadline = min(alpha.started_at, beta.started_at) + 75
    while time.time() < deadline:
        a, b = syslog(alpha), syslog(beta)
        if all(w.search(a) for w in alpha_wanted) and all(w.search(b) for w in beta_wanted):
            break
        time.sleep(0.5)
    a, b = syslog(alpha), syslog(beta)
    for wanted in alpha_wanted:
        assert wanted.search(a), f"{wanted.pattern} not in alpha's syslog:\n{a}"
    for wanted in beta_wanted:
        assert wanted.search(b), f"{wanted.pattern} not in beta's syslog:\n{b}"

    now = datetime.now(UTC)
    m = trad_cmd.search(a)
    assert m is not None
    logged = datetime.strptime(f"{now.year} {m['ts']}", "%Y %b %d %H:%M:%S").replace(tzinfo=UTC)
    assert abs((now - logged).total_seconds()) < 120
    m = rfc_cmd.search(b)
    assert m is not None
    stamp = datetime.fromisoformat(m["ts"])
    assert stamp.utcoffset() == datetime.now(ZoneInfo("America/New_York")).utcoffset()
    assert abs((now - stamp).total_seconds()) < 120

    assert "alpha-ran" in ok(fleet, "alpha", "cat /var/log/job.out")
    assert "beta-ran" in ok(fleet, "beta", "cat /var/log/job.out")
    assert ssh(fleet, "gamma", "test -e /var/log/job.out").returncode == 1
    # the same lines read over SSH, as cronops will
    assert trad_cmd.search(ok(fleet, "alpha", "grep CRON /var/log/syslog"))
    # job output went to the stand-in MTA in alpha's own /var/mail
    deadline = time.time() + 10
    while "alpha-mail" not in _read(alpha.path("/var/mail/root")) and time.time() < deadline:
        time.sleep(0.2)
    assert "alpha-mail" in _read(alpha.path("/var/mail/root"))
    assert "MAIL (mailed" not in a


def _read(p: Path) -> str:
    return p.read_text() if p.exists() else ""
