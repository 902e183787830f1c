"""Inventory loading: defaults inherited, the example file valid, every error naming file, line and key."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cronops.inventory import InventoryError, find_inventory, load_inventory, parse_inventory
from cronops.records import HostFacts, JobEntry

REPO = Path(__file__).resolve().parent.parent


def parse(text: str):
    return parse_inventory(text, Path("/etc/cronops/hosts.toml"))


def problems(text: str) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        parse(text)
    assert str(caught.value).startswith("/etc/cronops/hosts.toml: ")
    return caught.value.problems


def test_example_inventory_is_valid_and_documents_every_key():
    inventory = load_inventory(REPO / "hosts.example.toml")
    assert [h.name for h in inventory.hosts] == [
        "backup-01",
        "billing-01",
        "reports-01",
        "this-machine",
    ]
    billing = inventory.hosts[1]
    assert (billing.user, billing.sudo, billing.timezone) == ("ops", True, "America/New_York")
    assert billing.logs == ("/var/log/cron.log",)
    assert inventory.hosts[0].user == "root"  # inherited from [defaults]
    assert inventory.hosts[3].transport == "local"
    text = (REPO / "hosts.example.toml").read_text()
    from cronops.inventory import DEFAULTS_KEYS, HOST_KEYS
    from cronops.routes import ROUTE_KEYS

    assert [r.severity for r in inventory.routes] == ["critical", "warning"]
    for key in {*HOST_KEYS, *DEFAULTS_KEYS, *ROUTE_KEYS}:
        assert f"{key} =" in text or f"# {key} =" in text, (
            f"hosts.example.toml does not document {key!r}"
        )


def test_host_inherits_defaults_and_overrides_them():
    inventory = parse(
        """
[defaults]
user = "ops"
connect_timeout = 3
tags = ["prod"]
identity_file = "keys/id"

[[hosts]]
name = "a"
address = "a.example"

[[hosts]]
name = "b"
address = "b.example"
user = "root"
port = 2222
"""
    )
    a, b = inventory.hosts
    assert (a.user, a.connect_timeout, a.tags, a.port) == ("ops", 3.0, ("prod",), None)
    assert (b.user, b.port, b.target) == ("root", 2222, "root@b.example:2222")
    assert a.identity_file == Path("/etc/cronops/keys/id")  # relative to the inventory file


def test_missing_address_names_the_host_and_line():
    found = problems('[[hosts]]\nname = "alpha"\nport = 22\n')
    assert found == ["line 1: host 'alpha': missing required key 'address'"]


def test_duplicate_name_is_refused():
    found = problems(
        '[[hosts]]\nname = "a"\naddress = "x"\n\n[[hosts]]\nname = "a"\naddress = "y"\n'
    )
    assert found == ["line 5: host 'a': duplicate name (first defined in [[hosts]] #1)"]


def test_unknown_key_suggests_the_right_one():
    found = problems('[[hosts]]\nname = "a"\nadress = "x"\n')
    assert "line 3: host 'a': unknown key 'adress' (did you mean 'address'?)" in found


def test_wrong_types_are_named():
    found = problems(
        '[defaults]\nsudo = "yes"\n\n[[hosts]]\nname = "a"\naddress = "x"\nport = "22"\ntags = "prod"\n'
    )
    assert "line 2: [defaults]: key 'sudo' must be true or false, not 'yes'" in found
    assert "line 7: host 'a': key 'port' must be a port number (1-65535), not '22'" in found
    assert "line 8: host 'a': key 'tags' must be a list of strings, not 'prod'" in found


def test_every_problem_is_reported_at_once():
    found = problems('[[hosts]]\nname = "a"\n\n[[hosts]]\naddress = "b"\ncolour = 1\n')
    assert len(found) == 3


def test_unknown_time_zone_and_bad_toml():
    assert (
        "unknown time zone 'Mars/Olympus'"
        in problems('[[hosts]]\nname = "a"\naddress = "x"\ntimezone = "Mars/Olympus"\n')[0]
    )
    assert "not valid TOML" in problems("[[hosts]\nname=")[0]


def test_no_hosts_is_an_error():
    assert problems("[defaults]\nuser = 'x'\n") == ["no hosts: add at least one [[hosts]] table"]


def test_local_transport_needs_no_address():
    (host,) = parse('[[hosts]]\nname = "here"\ntransport = "local"\n').hosts
    assert (host.address, host.target) == ("localhost", "local")


def test_inventory_search_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CRONOPS_INVENTORY", raising=False)
    with pytest.raises(InventoryError, match="no inventory found"):
        find_inventory()
    (tmp_path / "xdg" / "cronops").mkdir(parents=True)
    (tmp_path / "xdg" / "cronops" / "hosts.toml").write_text("")
    assert find_inventory() == tmp_path / "xdg" / "cronops" / "hosts.toml"
    (tmp_path / "hosts.toml").write_text("")
    assert find_inventory() == Path("hosts.toml")
    monkeypatch.setenv("CRONOPS_INVENTORY", str(tmp_path / "env.toml"))
    (tmp_path / "env.toml").write_text("")
    assert find_inventory() == tmp_path / "env.toml"
    assert find_inventory(tmp_path / "hosts.toml") == tmp_path / "hosts.toml"


def test_select_by_name_and_tag():
    inventory = parse(
        '[[hosts]]\nname = "a"\naddress = "x"\ntags = ["prod", "db"]\n'
        '[[hosts]]\nname = "b"\naddress = "y"\ntags = ["prod"]\n'
    )
    assert [h.name for h in inventory.select(tags=["db"])] == ["a"]
    assert [h.name for h in inventory.select(names=["b"])] == ["b"]
    with pytest.raises(InventoryError, match="no host named 'c'"):
        inventory.select(names=["c"])


def test_policy_tables_are_checked_with_their_lines():
    found = problems(
        '[defaults]\ngrace = "soon"\n\n[tags.batch]\ntier = "urgent"\n\n'
        '[[hosts]]\nname = "a"\naddress = "x"\n\n[[jobs]]\nmax_duration = "2h"\n\n'
        '[[jobs]]\ncommand = "pg_dump"\ncolour = "red"\n'
    )
    assert found[0].startswith("line 2: [defaults]: key 'grace' must be a duration")
    assert found[1].startswith("line 5: [tags.batch]: key 'tier' must be one of")
    assert found[2] == (
        "line 11: [[jobs]] #1: needs at least one of host, user, command, id, tag to say which "
        "jobs it is for"
    )
    assert found[3] == "line 16: [[jobs]] #2: unknown key 'colour'"


def test_policy_reaches_the_jobs_it_names():
    inventory = parse(
        '[defaults]\ngrace = "5m"\n[tags.batch]\ngrace = "30m"\n'
        '[[hosts]]\nname = "db1"\naddress = "x"\ntags = ["batch"]\n'
        '[[jobs]]\ncommand = "pg_dump"\ngrace = "2h"\n'
    )
    host = HostFacts(name="db1", status="ok", error=None, zone=UTC, tags=("batch",))

    def entry(command):
        return JobEntry(
            id="x",
            host="db1",
            user="root",
            source="/etc/crontab",
            schedule="@daily",
            command=command,
            disabled=False,
            paused=None,
            cron_tz=None,
            first_seen=datetime.now(UTC),
            crontab_mtime=None,
        )

    assert inventory.policy.resolve(entry("true"), host).grace == timedelta(minutes=30)
    assert inventory.policy.resolve(entry("pg_dump -Fc"), host).grace == timedelta(hours=2)


def test_a_file_that_is_not_utf8_is_refused_at_its_first_bad_byte(tmp_path, capsys):
    from cronops.cli import main

    inventory = tmp_path / "hosts.toml"
    inventory.write_bytes(b'[[hosts]]\nname = "a"\naddress = "x"\n# caf\xe9 au lait\n')
    with pytest.raises(InventoryError) as caught:
        load_inventory(inventory)
    (problem,) = caught.value.problems
    assert problem.startswith("line 4: byte 0xe9 at column 6 (byte 40 of the file) is not UTF-8")
    assert str(caught.value).startswith(f"{inventory}: line 4: ")
    # The command line says the same and exits 2, as for every other inventory problem.
    assert main(["hosts", "--inventory", str(inventory)]) == 2
    err = capsys.readouterr().err
    assert "inventory error" in err and "byte 0xe9" in err and "Traceback" not in err


def test_a_key_written_inside_a_multiline_string_is_not_taken_for_one():
    found = problems(
        "[[hosts]]\n"
        'name = "a"\n'
        'address = "x"\n'
        'runbook = """\n'
        "see the wiki\n"
        "port = 22\n"
        "[[hosts]]\n"
        '"""\n'
        'port = "22"\n'
        "\n"
        "[[hosts]]\n"
        'name = "b"\n'
        "tags = [\n"
        '  "prod", # a comment ] with a bracket\n'
        "  '''\n"
        "  adress = 1\n"
        "  ''',\n"
        "]\n"
        'adress = "y"\n'
    )
    assert found == [
        "line 9: host 'a': key 'port' must be a port number (1-65535), not '22'",
        "line 19: host 'b': unknown key 'adress' (did you mean 'address'?)",
        "line 11: host 'b': missing required key 'address'",
    ]


def test_a_key_whose_line_is_not_certain_gets_none():
    # Inline tables: tomllib does not say where in them a key is, and neither do we.
    found = problems(
        'hosts = [{name = "a", address = "x", port = "22"}, {name = "b"}]\n[defaults]\nsudo = 1\n'
    )
    assert found == [
        "line 3: [defaults]: key 'sudo' must be true or false, not 1",
        "host 'a': key 'port' must be a port number (1-65535), not '22'",
        "host 'b': missing required key 'address'",
    ]


def test_quoted_and_dotted_names_are_followed():
    found = problems(
        '[[hosts]]\nname = "a"\naddress = "x"\n\n[tags."night batch"]\ntier = "urgent"\n'
        '[tags.ops]\n"grace" = "soon"\n'
    )
    assert found[0].startswith("line 6: [tags.night batch]: key 'tier' must be one of")
    assert found[1].startswith("line 8: [tags.ops]: key 'grace' must be a duration")


def test_each_value_is_read_once_into_its_type():
    inventory = parse(
        '[defaults]\ngrace = "30m"\ncommand_timeout = 5\n'
        '[[hosts]]\nname = "a"\naddress = "x"\ntimezone = "UTC"\nmax_duration = "2h"\n'
        '[[jobs]]\nuser = "root"\nignore = ["late"]\n'
    )
    (host,) = inventory.hosts
    assert host.command_timeout == 5.0 and isinstance(host.command_timeout, float)
    book = inventory.policy
    assert book.defaults == {"grace": timedelta(minutes=30)}
    assert book.hosts == {"a": {"max_duration": timedelta(hours=2)}}
    assert book.rules[0].settings == {"ignore": frozenset({"late"})}


def test_a_zone_is_checked_where_it_is_written():
    found = problems(
        '[defaults]\ntimezone = "Mars/Olympus"\n[[hosts]]\nname = "a"\naddress = "x"\n'
    )
    assert found == ["line 2: [defaults]: key 'timezone': unknown time zone 'Mars/Olympus'"]


def test_retention_is_a_fleet_wide_duration_of_eight_days_at_least():
    host = '[[hosts]]\nname = "a"\naddress = "x"\n'
    assert parse(host).retention == timedelta(days=35)
    assert parse(host).rollup_retention == timedelta(days=365)
    kept = parse(f'[defaults]\nretention = "60d"\nrollup_retention = 31536000\n{host}')
    assert (kept.retention, kept.rollup_retention) == (timedelta(days=60), timedelta(days=365))

    found = problems(f'[defaults]\nretention = "3d"\nrollup_retention = "1y"\n{host}')
    assert found[0] == (
        "line 2: [defaults]: key 'retention' must be a duration like '90s', '5m', '2h', '1d' "
        "(or '1h30m'), or whole seconds, of 8 days at least, not '3d'"
    )
    assert found[1].startswith("line 3: [defaults]: key 'rollup_retention' must be a duration")
    assert problems(f'[defaults]\nretention = "40d"\nrollup_retention = "30d"\n{host}') == [
        "line 3: [defaults]: key 'rollup_retention' must not be shorter than 'retention' "
        "(the days folded would be dropped as soon as they are made)"
    ]
    # The history is the fleet's: a host cannot keep its runs longer than another.
    assert problems(f'{host}retention = "40d"\n') == ["line 4: host 'a': unknown key 'retention'"]
