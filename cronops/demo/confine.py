"""What a rerun may run on the demo fleet: the demo's own jobs, never this machine's programs.

A demo host is a directory tree, and its commands run here as whoever runs the demo. Host paths
are moved into the tree, but a path outside the host's directories, a relative path or a shell
expansion (`${VAR}`, `$(...)`) would reach this machine. So a rerun runs a command only when it
is one the demo's crontabs hold, or one made of nothing but the demo's harmless scripts
(/usr/local/bin/NAME) and what they are made of (echo, sleep), with plain arguments, their output
going to the host's logs, homes or temporary directories.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime
from functools import lru_cache

from cronops.crontab import split_percent
from cronops.demo.catalog import HOSTS, SCRIPTS
from cronops.demo.tree import parse_crontabs
from cronops.demo.world import crontab_texts

SCRIPTS_DIR = "/usr/local/bin/"
HARMLESS = {"echo", "sleep"}  # all the demo's scripts do: a job made of them may run too
# Where a rerun's output may be redirected: directories of the host's tree that hold no program
# (a script overwritten with output would run that output next time).
OUTPUT_DIRS = ("/var/log/", "/var/tmp/", "/tmp/", "/home/", "/root/", "/srv/")
# Characters without a meaning to the shell beyond words, quotes and the operators checked below:
# no $ ` \ (expansions, escapes), no ~ * ? [ { (tilde, globs, braces), no < ( (input, subshells).
_PLAIN = re.compile(r"[\w@%+=:,./ '\"&|;>-]*")
_SEPARATORS = {"&&", "||", ";", "|", "&"}
_REDIRECTIONS = {">", ">>"}
_TO_STDOUT = {"1", "2"}  # what `>&` may name: another of the job's own outputs


def rerun_refusal(command: str) -> str | None:
    """Why the demo will not rerun `command` (as cron runs it: up to its first %), or None."""
    if command in _own_commands() or _only_demo_programs(command):
        return None
    return (
        f"the demo fleet reruns only its own jobs: `{command}` would run on this machine, as "
        f"you. A rerun here may run the demo's scripts ({SCRIPTS_DIR}NAME), echo and sleep, "
        f"with plain arguments, output redirected into {', '.join(OUTPUT_DIRS)}"
    )


@lru_cache(maxsize=1)
def _own_commands() -> frozenset[str]:
    """The command of every crontab line the demo writes, its later edits included. The moment
    the crontabs are built at fills in schedules and pause markers, never commands."""
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    crontabs = [(spec.name, crontab_texts(spec, moment)) for spec in HOSTS]
    crontabs += [(spec.name, {edit.path: edit.text}) for spec in HOSTS for edit in spec.edits]
    return frozenset(
        split_percent(entry.command)[0]
        for host, texts in crontabs
        for crontab in parse_crontabs(host, texts)
        for entry in crontab.entries
    )


def _only_demo_programs(command: str) -> bool:
    if not _PLAIN.fullmatch(command):
        return False
    try:
        words = list(shlex.shlex(command, posix=True, punctuation_chars=True))
    except ValueError:  # an unclosed quote
        return False
    expect_program = True
    for word, following in zip(words, [*words[1:], None], strict=True):
        if expect_program:
            if not _is_demo_program(word):
                return False
            expect_program = False
        elif word in _SEPARATORS:
            expect_program = True
        elif word == ">&":
            if following not in _TO_STDOUT:
                return False
        elif word in _REDIRECTIONS:
            if not _is_output_file(following):
                return False
        elif not word.strip(";&|>"):  # an operator not known here (";;", "&>", ">|")
            return False
    return not expect_program


def _is_demo_program(word: str) -> bool:
    return word in HARMLESS or (
        word.startswith(SCRIPTS_DIR) and word.removeprefix(SCRIPTS_DIR) in SCRIPTS
    )


def _is_output_file(word: str | None) -> bool:
    return (
        word is not None and word.startswith(OUTPUT_DIRS) and not {".", ".."} & set(word.split("/"))
    )
