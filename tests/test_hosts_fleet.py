"""`cronops hosts` against real sshd hosts: every state, and one bad host never stops the rest.

Hosts are real OpenSSH servers on 127.0.0.1 (tests/fleet.py); nothing at the SSH boundary is mocked.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from cronops.cli import main
from tests.fleet import generate_key, silent_listener

pytestmark = pytest.mark.fleet


def hosts_json(capsys, *args: str) -> tuple[int, dict[str, dict]]:
    code = main(["hosts", "--format", "json", *args])
    data = json.loads(capsys.readouterr().out)
    return code, {h["name"]: h for h in data["hosts"]}


def test_all_hosts_ok(fleet, inventory, capsys):
    code, hosts = hosts_json(capsys, "--inventory", str(inventory()))
    assert code == 0
    assert set(hosts) == set(fleet.hosts)
    for name, host in hosts.items():
        assert host["status"] == "ok", host
        assert host["error"] is None
        assert host["address"] == "127.0.0.1" and host["port"] == fleet.hosts[name].port
        assert host["latency_ms"] > 0
        assert host["hostname"] == name
    assert hosts["bravo"]["zone"] == "America/New_York"


def test_each_failure_is_that_hosts_state_and_the_rest_carry_on(fleet, inventory, tmp_path, capsys):
    silent_port, close_silent = silent_listener()
    stranger = tmp_path / "stranger_key"
    generate_key(stranger)
    # A port where nothing listens: bind, note the port, close.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    known_hosts = fleet.write_known_hosts(
        tmp_path / "known_hosts", overrides={"bravo": fleet.hosts["alpha"].host_public_key}
    )
    empty_known_hosts = tmp_path / "empty_known_hosts"
    empty_known_hosts.write_text("")
    path = inventory(
        ["alpha", "charlie"],
        extra_defaults={"known_hosts": str(known_hosts)},
        extra_hosts=[
            {"name": "refused", "address": "127.0.0.1", "port": closed_port},
            {"name": "silent", "address": "127.0.0.1", "port": silent_port, "connect_timeout": 1},
            {
                "name": "changed",
                "address": "127.0.0.1",
                "port": fleet.hosts["bravo"].port,
            },
            {
                "name": "wrong-key",
                "address": "127.0.0.1",
                "port": fleet.hosts["charlie"].port,
                "identity_file": str(stranger),
            },
            {
                "name": "unknown",
                "address": "127.0.0.1",
                "port": fleet.hosts["alpha"].port,
                "known_hosts": str(empty_known_hosts),
            },
        ],
    )
    try:
        code, hosts = hosts_json(capsys, "--inventory", str(path))
    finally:
        close_silent()
    assert code == 1
    status = {name: h["status"] for name, h in hosts.items()}
    assert status == {
        "alpha": "ok",
        "charlie": "ok",
        "refused": "unreachable",
        "silent": "timeout",
        "changed": "host_key_changed",
        "wrong-key": "auth_failed",
        "unknown": "host_key_unknown",
    }
    assert "connection refused" in hosts["refused"]["error"]
    assert "HOST KEY CHANGED" in hosts["changed"]["error"]
    assert "--accept-new-host-keys" in hosts["unknown"]["error"]
    assert "authentication failed as root" in hosts["wrong-key"]["error"]


def test_a_changed_key_is_refused_even_when_accepting_new_keys(fleet, inventory, tmp_path, capsys):
    known_hosts = fleet.write_known_hosts(
        tmp_path / "known_hosts", overrides={"alpha": fleet.hosts["bravo"].host_public_key}
    )
    before = known_hosts.read_text()
    path = inventory(["alpha"], extra_defaults={"known_hosts": str(known_hosts)})
    code, hosts = hosts_json(capsys, "--inventory", str(path), "--accept-new-host-keys")
    assert (code, hosts["alpha"]["status"]) == (1, "host_key_changed")
    assert known_hosts.read_text() == before


def test_unknown_key_is_trusted_on_first_use_only_when_asked(fleet, inventory, tmp_path, capsys):
    known_hosts = tmp_path / "fresh_known_hosts"  # does not exist yet
    path = inventory(["alpha"], extra_defaults={"known_hosts": str(known_hosts)})
    code, hosts = hosts_json(capsys, "--inventory", str(path))
    assert (code, hosts["alpha"]["status"]) == (1, "host_key_unknown")
    assert not known_hosts.exists()

    code, hosts = hosts_json(capsys, "--inventory", str(path), "--accept-new-host-keys")
    assert (code, hosts["alpha"]["status"]) == (0, "ok")
    port = fleet.hosts["alpha"].port
    assert known_hosts.read_text() == f"[127.0.0.1]:{port} {fleet.hosts['alpha'].host_public_key}\n"

    code, hosts = hosts_json(capsys, "--inventory", str(path))  # recorded: now simply known
    assert (code, hosts["alpha"]["status"]) == (0, "ok")


def test_non_root_user_logs_in(fleet, inventory, capsys):
    path = inventory(["charlie"], extra_defaults={"user": "alice"})
    code, hosts = hosts_json(capsys, "--inventory", str(path))
    assert (code, hosts["charlie"]["status"]) == (0, "ok")


def test_table_output_and_exit_code_through_the_real_entry_point(inventory):
    done = subprocess.run(
        [sys.executable, "-m", "cronops", "hosts", "--inventory", str(inventory(["alpha"]))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "alpha" in done.stdout and "ok" in done.stdout
    assert "\x1b[" not in done.stdout  # no colour codes when piped


def test_inventory_error_exits_2_and_names_the_problem(tmp_path, capsys):
    bad = tmp_path / "hosts.toml"
    bad.write_text('[[hosts]]\nname = "a"\n')
    assert main(["hosts", "--inventory", str(bad)]) == 2
    assert f"{bad}: line 1: host 'a': missing required key 'address'" in capsys.readouterr().err


def test_a_host_behind_a_jump_host(fleet, inventory, capsys):
    alpha, bravo = fleet.hosts["alpha"], fleet.hosts["bravo"]
    path = inventory(
        [],
        extra_hosts=[
            {
                "name": f"behind-{n}",
                "address": "127.0.0.1",
                "port": bravo.port,
                "proxy_jump": f"root@127.0.0.1:{alpha.port}",
            }
            for n in range(3)
        ],
    )
    before = jump_host_logins(alpha)
    code, hosts = hosts_json(capsys, "--inventory", str(path))
    assert code == 0, hosts
    assert {h["hostname"] for h in hosts.values()} == {"bravo"}
    assert jump_host_logins(alpha) - before == 1  # one connection to the jump host serves all


def jump_host_logins(host) -> int:
    log = (host.dir / "sshd.log").read_text()
    return sum(1 for line in log.splitlines() if "Accepted publickey" in line)


def test_ssh_config_aliases_work_as_they_do_for_ssh(fleet, tmp_path, monkeypatch, capsys):
    alpha = fleet.hosts["alpha"]
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    generate_key(home / ".ssh" / "id_ed25519")  # a default key the hosts do not know
    (home / ".ssh" / "config").write_text(
        f"Host fleet-alpha\n  HostName 127.0.0.1\n  Port {alpha.port}\n  User root\n"
        f"  IdentityFile {fleet.client_key}\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    inventory = tmp_path / "alias.toml"
    inventory.write_text(
        f'[defaults]\nknown_hosts = "{fleet.known_hosts}"\n\n'
        '[[hosts]]\nname = "alpha"\naddress = "fleet-alpha"\n'
    )
    code, hosts = hosts_json(capsys, "--inventory", str(inventory))
    assert (code, hosts["alpha"]["status"], hosts["alpha"]["hostname"]) == (0, "ok", "alpha")
