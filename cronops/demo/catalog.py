"""The demo fleet's made-up world, as data: hosts, job scripts, crontab texts, policy, accounts.

Nothing here acts: world.py writes it out and cron.py runs it. Times are offsets back from `now`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from cronops.policy import PolicyBook

HISTORY = timedelta(days=14)  # how much cron log each host holds: scan the demo with this window
CRONTABS_AGE = timedelta(days=40)  # crontabs untouched since long before the history starts
ROTATED = timedelta(days=7)  # logrotate moved syslog to syslog.1 this long ago

# -- the job scripts: what each demo job prints, how long cron's runs of it usually take -----------


@dataclass(frozen=True)
class Script:
    """A harmless /usr/local/bin script: a rerun prints these lines, sleeps a little and exits."""

    seconds: float  # how long its runs take in the simulated history
    says: tuple[str, ...]
    status: int = 0


SCRIPTS = {
    "aggregate-events": Script(600, ("aggregating events of the last window", "42 118 rows")),
    "build-cleanup": Script(30, ("removed 5 stale workspaces",)),
    "certbot-renew": Script(12, ("no certificates are due for renewal",)),
    "check-certs": Script(8, ("12 certificates checked, none expires within 21 days",)),
    "db-report": Script(95, ("nightly database report written",)),
    "disk-report": Script(3, ("/srv 71% used",)),
    "dmarc-fetch": Script(15, ("fetched 4 aggregate reports",)),
    "docker-prune": Script(45, ("Total reclaimed space: 1.2GB",)),
    "dunning-mailer": Script(45, ("sent 17 payment reminders",)),
    "es-snapshot": Script(400, ("snapshot nightly-snap completed",)),
    "etl-load": Script(900, ("loaded 3 tables into the lake",)),
    "export-warehouse": Script(1500, ("exporting 14 tables to the warehouse",)),
    "heartbeat": Script(1, ("pong",)),
    "invoice-run": Script(
        180,
        ("creating invoices", "ERROR: payment gateway rejected our API key (HTTP 401)"),
        status=2,
    ),
    "kpi-report": Script(120, ("KPI report mailed",)),
    "ledger-close": Script(75, ("ledger closed",)),
    "logrotate-app": Script(4, ("rotated 3 log files",)),
    "mail-queue-report": Script(3, ("queue: 12 messages",)),
    "mirror-sync": Script(300, ("mirror in sync",)),
    "payment-reconcile": Script(300, ("reconciled 1 204 payments",)),
    "pg-backup": Script(240, ("pg_dump: 3 databases", "backup written")),
    "pg-vacuum": Script(90, ("VACUUM ANALYZE done",)),
    "pg-wal-prune": Script(5, ("removed 6 WAL segments",)),
    "prune-releases": Script(6, ("removed 2 old releases",)),
    "prune-snapshots": Script(60, ("kept 8 snapshots, removed 1",)),
    "purge-sessions": Script(8, ("purged 311 sessions",)),
    "queue-retry": Script(6, ("retried 3 messages",)),
    "queue-worker": Script(2, ("worker started",)),
    "redis-snapshot": Script(25, ("Background saving started",)),
    "refresh-staging": Script(700, ("staging refreshed from last night's dump",)),
    "reindex-search": Script(1500, ("reindexed 82 311 documents",)),
    "replica-check": Script(3, ("replication lag 0.4s",)),
    "rsync-pull": Script(1200, ("sent 1.1K bytes  received 3.4G bytes",)),
    "sa-update-rules": Script(30, ("rules updated",)),
    "sitemap-build": Script(60, ("sitemap.xml.gz: 14 020 URLs",)),
    "sync-crm": Script(40, ("synced 57 accounts",)),
    "sync-inventory": Script(20, ("stock levels synced",)),
    "token-cleanup": Script(4, ("deleted 93 expired tokens",)),
    "usage-report": Script(30, ("weekly usage report mailed",)),
    "warm-cache": Script(420, ("warmed 2 400 pages",)),
}
OTHER_SECONDS = 2.0  # run-parts and anything an edit made up
SCRIPT_PATH = re.compile(r"/usr/local/bin/([\w.-]+)")  # the demo scripts a command runs


# -- the hosts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plant:
    """A planted anomaly: what one job did at one run (or every run since) `ago` before now."""

    script: str  # the demo script the job's command runs
    ago: timedelta  # the run due at or before now - ago
    seconds: float | None = None  # that run took this long
    delay: float = 0.0  # ... started this many seconds late
    signal: int | None = None  # ... was killed by this signal
    hang: bool = False  # ... never ends: its process is still running
    status: int = 0  # every run since now - ago exits with this status


@dataclass(frozen=True)
class Edit:
    """A crontab file someone changed `ago` before now."""

    ago: timedelta
    path: str
    text: str


@dataclass(frozen=True)
class DemoHost:
    """One demo host: its crontabs, what its cron did in the history, and what a scan shows."""

    name: str
    zone: str
    tags: tuple[str, ...]
    shows: str  # what the host demonstrates, in an operator's words
    crontabs: Mapping[str, str]  # path on the host -> text
    expect: frozenset[str] = frozenset()  # the finding kinds a scan of the demo shows for it
    plants: tuple[Plant, ...] = ()
    edits: tuple[Edit, ...] = ()
    level: int = 15  # Debian cron's -L
    rfc3339: bool = False  # rsyslog's Debian 12 timestamps instead of the traditional ones
    cron_stopped: timedelta | None = None  # cron was stopped this long ago, never restarted
    reachable: bool = True


DAY = timedelta(days=1)
SPOOL = "/var/spool/cron/crontabs/"

# Debian 12's stock /etc/crontab.
DEBIAN_CRONTAB = """\
# /etc/crontab: system-wide crontab
# Unlike any other crontab you don't have to run the `crontab'
# command to install the new version when you edit this file
# and files in /etc/cron.d. These files also have username fields,
# that none of the other crontabs do.

SHELL=/bin/sh
# You can also override PATH, but by default, newer versions inherit it from the environment
#PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

# Example of job definition:
# .---------------- minute (0 - 59)
# |  .------------- hour (0 - 23)
# |  |  .---------- day of month (1 - 31)
# |  |  |  .------- month (1 - 12) OR jan,feb,mar,apr ...
# |  |  |  |  .---- day of week (0 - 6) (Sunday=0 or 7) OR sun,mon,tue,wed,thu,fri,sat
# |  |  |  |  |
# *  *  *  *  * user-name command to be executed
17 *\t* * *\troot\tcd / && run-parts --report /etc/cron.hourly
25 6\t* * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }
47 6\t* * 7\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.weekly; }
52 6\t1 * *\troot\ttest -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.monthly; }
#
"""

CERTBOT = """\
# /etc/cron.d/certbot: crontab entries for the certbot package
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin

0 */12 * * * root /usr/local/bin/certbot-renew --quiet --deploy-hook "systemctl reload nginx"
"""

REPORTS = """\
# KPI reports for the management dashboard
MAILTO=data-team@example.com
0 * * * * reports /usr/local/bin/sync-crm --incremental
30 6 * * * reports /usr/local/bin/kpi-report --daily
45 6 * * * reports /usr/local/bin/db-report --kpi-tables
"""

# Someone pasted a line from their own crontab, without the user field: Debian cron then ignores
# the whole file, so the jobs above it stop too.
REPORTS_BROKEN = (
    REPORTS
    + "# churn numbers for the board (jsmith)\n0 8 * * 1-5 /usr/local/bin/kpi-report --churn\n"
)

HOSTS: tuple[DemoHost, ...] = (
    DemoHost(
        "web-01",
        "Europe/Berlin",
        ("web", "prod"),
        "healthy web host: certbot, cache warming, sitemaps",
        {
            "/etc/crontab": DEBIAN_CRONTAB,
            "/etc/cron.d/certbot": CERTBOT,
            SPOOL + "www-data": """\
MAILTO=ops@example.com
*/15 * * * * /usr/local/bin/warm-cache --site shop
30 3 * * * /usr/local/bin/sitemap-build --gzip >> /var/log/sitemap.log 2>&1
0 4 * * * /usr/local/bin/purge-sessions --older-than 7d
45 4 * * 0 /usr/local/bin/prune-releases --keep 5
""",
            SPOOL + "root": """\
# rotate the app logs before the nightly backup pulls them
5 0 * * * /usr/local/bin/logrotate-app /srv/shop/log
20 5 * * * /usr/local/bin/check-certs --warn 21d
""",
        },
    ),
    DemoHost(
        "web-02",
        "Europe/Berlin",
        ("web", "prod"),
        "overlap: the 10-minute cache warmer sometimes runs longer than 10 minutes",
        {
            "/etc/cron.d/certbot": CERTBOT,
            SPOOL + "www-data": """\
MAILTO=ops@example.com
*/10 * * * * /usr/local/bin/warm-cache --site shop --all-locales
45 3 * * * /usr/local/bin/sitemap-build --gzip >> /var/log/sitemap.log 2>&1
0 4 * * * /usr/local/bin/purge-sessions --older-than 7d
50 4 * * 0 /usr/local/bin/prune-releases --keep 5
""",
            SPOOL + "root": """\
5 0 * * * /usr/local/bin/logrotate-app /srv/shop/log
0 2 * * * /usr/local/bin/check-certs --warn 21d
""",
        },
        expect=frozenset({"lint", "overlap"}),
        plants=(
            Plant("warm-cache", 3 * DAY + timedelta(hours=5), seconds=760),
            Plant("warm-cache", DAY + timedelta(hours=2), seconds=745),
        ),
    ),
    DemoHost(
        "web-03",
        "America/New_York",
        ("web", "prod"),
        "healthy web host, US zone, an @reboot job",
        {
            "/etc/crontab": DEBIAN_CRONTAB,
            SPOOL + "www-data": """\
*/15 * * * * /usr/local/bin/purge-sessions --expired-only
20 2 * * * /usr/local/bin/sitemap-build
0 3 * * * /usr/local/bin/logrotate-app /srv/shop/log
""",
            SPOOL + "deploy": """\
# release housekeeping
0 5 * * 0 /usr/local/bin/prune-releases --keep 5
@reboot /usr/local/bin/queue-worker --daemon
30 6 * * 1-5 /usr/local/bin/check-certs --warn 30d
""",
        },
        expect=frozenset({"drift", "lint"}),
    ),
    DemoHost(
        "api-01",
        "Europe/Berlin",
        ("api", "prod"),
        "healthy API host: an escaped % in a command, a commented-out job",
        {
            "/etc/crontab": DEBIAN_CRONTAB,
            SPOOL + "deploy": """\
SHELL=/bin/bash
MAILTO=""
*/10 * * * * /usr/local/bin/queue-retry --max 500
0 * * * * /usr/local/bin/token-cleanup
30 1 * * * /usr/local/bin/logrotate-app /srv/api/log
15 2 * * * /usr/local/bin/db-report --date=$(date +\\%F) > /home/deploy/reports/nightly.txt
# the old sync was replaced by the queue in March
#*/30 * * * * /usr/local/bin/sync-crm --legacy
""",
        },
        expect=frozenset({"lint"}),
    ),
    DemoHost(
        "api-02",
        "America/New_York",
        ("api", "prod"),
        "healthy API host: a /etc/cron.d file, a % that feeds a job its stdin",
        {
            "/etc/cron.d/api": """\
# managed by ansible: do not edit by hand
MAILTO=api-team@example.com
*/30 * * * * deploy /usr/local/bin/token-cleanup --expired
30 * * * * deploy /usr/local/bin/queue-retry --dead-letter
0 6 * * 1 deploy /usr/local/bin/usage-report --week%Weekly API usage attached.%-- cron
10 4 * * * deploy /usr/local/bin/logrotate-app /srv/api/log
40 4 * * * root /usr/local/bin/check-certs --warn 14d
0 3 * * 6 deploy /usr/local/bin/db-report --api-keys
""",
        },
        expect=frozenset({"lint"}),
    ),
    DemoHost(
        "db-01",
        "Europe/Berlin",
        ("db", "prod"),
        "slow: last night's backup took ten times as long as usual",
        {
            "/etc/crontab": DEBIAN_CRONTAB,
            SPOOL + "postgres": """\
# postgres maintenance
0 1 * * * /usr/local/bin/pg-backup --all --compress >> /var/log/pg-backup.log 2>&1
30 4 * * 0 /usr/local/bin/pg-vacuum --analyze --all
*/15 * * * * /usr/local/bin/pg-wal-prune --keep 2d
""",
            SPOOL + "root": """\
10 * * * * /usr/local/bin/replica-check --lag-max 30s
45 5 * * * /usr/local/bin/db-report --sizes
35 0 * * * /usr/local/bin/logrotate-app /var/log/postgresql
""",
        },
        expect=frozenset({"slow"}),
        plants=(Plant("pg-backup", timedelta(hours=20), seconds=2290),),
    ),
    DemoHost(
        "db-02",
        "Europe/Berlin",
        ("db", "prod"),
        "hung: the warehouse export has run for hours past its 2h max_duration",
        {
            "/etc/crontab": DEBIAN_CRONTAB,
            SPOOL + "postgres": """\
15 {five_hours_ago} * * * /usr/local/bin/export-warehouse --full
*/20 * * * * /usr/local/bin/pg-wal-prune --keep 2d
0 2 * * * /usr/local/bin/pg-backup --all
30 4 * * 0 /usr/local/bin/pg-vacuum --analyze --all
""",
            SPOOL + "root": "10 * * * * /usr/local/bin/replica-check --lag-max 30s\n",
        },
        expect=frozenset({"hung", "lint"}),
        plants=(Plant("export-warehouse", timedelta(hours=4), hang=True),),
    ),
    DemoHost(
        "db-03",
        "Asia/Singapore",
        ("db", "staging"),
        "Debian's default cron -L 1 and RFC 3339 syslog: runs seen, outcomes unknown",
        {
            SPOOL + "postgres": """\
0 3 * * * /usr/local/bin/pg-backup --all
0 */6 * * * /usr/local/bin/pg-vacuum --analyze
20 3 * * * /usr/local/bin/pg-wal-prune --keep 1d
""",
            "/etc/cron.d/staging-refresh": """\
# refresh staging from last night's production dump
30 5 * * 1-5 postgres /usr/local/bin/refresh-staging --from db-01
45 2 * * * root /usr/local/bin/logrotate-app /var/log/postgresql
""",
        },
        level=1,
        rfc3339=True,
    ),
    DemoHost(
        "billing-01",
        "America/New_York",
        ("billing", "prod"),
        "failed: the nightly invoice run has exited 2 every night for 6 days",
        {
            "/etc/crontab": DEBIAN_CRONTAB,
            "/etc/cron.d/billing": """\
MAILTO=billing-alerts@example.com
30 1 * * * billing /usr/local/bin/invoice-run --send
0 */4 * * * billing /usr/local/bin/payment-reconcile --provider stripe
15 8 * * 1-5 billing /usr/local/bin/dunning-mailer
45 23 * * * billing /usr/local/bin/ledger-close --day
50 0 * * * root /usr/local/bin/logrotate-app /srv/billing/log
0 9 1 * * billing /usr/local/bin/db-report --monthly-close
""",
        },
        expect=frozenset({"failed", "lint"}),
        plants=(Plant("invoice-run", 6 * DAY + timedelta(hours=1), status=2),),
    ),
    DemoHost(
        "billing-02",
        "America/New_York",
        ("billing", "prod"),
        "healthy billing host",
        {
            "/etc/cron.d/billing": """\
MAILTO=billing-alerts@example.com
*/10 * * * * billing /usr/local/bin/sync-inventory --warehouse eu
0 2 * * * billing /usr/local/bin/payment-reconcile --provider paypal
45 23 * * * billing /usr/local/bin/ledger-close --day
30 3 * * 6 billing /usr/local/bin/db-report --ledger
15 8 * * 1-5 billing /usr/local/bin/dunning-mailer --dry-run
50 0 * * * root /usr/local/bin/logrotate-app /srv/billing/log
""",
        },
        expect=frozenset({"lint"}),
    ),
    DemoHost(
        "reports-01",
        "Europe/London",
        ("data", "prod"),
        "missed: a line without a user field made cron ignore /etc/cron.d/reports 3 days ago",
        {
            "/etc/cron.d/reports": REPORTS,
            SPOOL + "reports": """\
# my own ad-hoc numbers
20 9 * * 1-5 /usr/local/bin/kpi-report --adhoc --to me@example.com
0 12 * * 5 /usr/local/bin/kpi-report --friday-digest
""",
        },
        expect=frozenset({"missed", "crontab_errors"}),
        edits=(Edit(3 * DAY - timedelta(hours=2), "/etc/cron.d/reports", REPORTS_BROKEN),),
    ),
    DemoHost(
        "etl-01",
        "UTC",
        ("data", "prod"),
        "late: the 06:00 load started 23 minutes late; failed: an aggregation was OOM-killed",
        {
            SPOOL + "etl": """\
MAILTO=data-team@example.com
0 6 * * * /usr/local/bin/etl-load --source warehouse --target lake
0 */2 * * * /usr/local/bin/aggregate-events --window 2h
40 * * * * /usr/local/bin/sync-crm --full-refresh-if-stale
30 5 * * 0 /usr/local/bin/prune-snapshots --keep 8
15 7 * * * /usr/local/bin/kpi-report --pipeline
0 1 * * * /usr/local/bin/logrotate-app /srv/etl/log
""",
        },
        expect=frozenset({"late", "failed"}),
        plants=(
            Plant("etl-load", 2 * DAY, delay=23 * 60 + 12),
            Plant("aggregate-events", 4 * DAY, seconds=880, signal=9),
        ),
    ),
    DemoHost(
        "etl-02",
        "UTC",
        ("data", "prod"),
        "healthy ETL host",
        {
            SPOOL + "etl": """\
5 * * * * /usr/local/bin/sync-crm --incremental
0 3 * * * /usr/local/bin/etl-load --source events --target lake
30 3 * * 0 /usr/local/bin/prune-snapshots --keep 8
0 4 * * * /usr/local/bin/aggregate-events --window 1d
20 4 * * * /usr/local/bin/logrotate-app /srv/etl/log
45 5 * * 1-5 /usr/local/bin/kpi-report --pipeline
""",
        },
    ),
    DemoHost(
        "mail-01",
        "Europe/Berlin",
        ("mail", "ops"),
        "healthy mail host: a && chain",
        {
            "/etc/crontab": DEBIAN_CRONTAB,
            SPOOL + "root": """\
MAILTO=postmaster@example.com
*/15 * * * * /usr/local/bin/mail-queue-report --threshold 200
17 3 * * * /usr/local/bin/sa-update-rules && /usr/local/bin/mail-queue-report --flush
0 5 * * * /usr/local/bin/dmarc-fetch --imap reports@example.com
30 5 * * * /usr/local/bin/check-certs --warn 21d
45 23 * * 0 /usr/local/bin/logrotate-app /var/log/mail
""",
        },
    ),
    DemoHost(
        "backup-01",
        "Europe/Berlin",
        ("ops", "backup"),
        "healthy backup host: long nightly pulls",
        {
            "/etc/crontab": DEBIAN_CRONTAB,
            "/etc/cron.d/backups": """\
# pull backups from the database and web hosts
0 2 * * * backup /usr/local/bin/rsync-pull db-01:/var/backups/postgres /srv/backups/db-01
30 2 * * * backup /usr/local/bin/rsync-pull web-01:/srv/shop/uploads /srv/backups/web-01
0 4 * * * backup /usr/local/bin/rsync-pull billing-01:/srv/billing/exports /srv/backups/billing-01
0 6 * * 0 backup /usr/local/bin/prune-snapshots --keep-weekly 8
15 6 * * * root /usr/local/bin/disk-report /srv/backups
30 6 1 * * backup /usr/local/bin/prune-snapshots --keep-monthly 12
""",
        },
        expect=frozenset({"lint"}),
    ),
    DemoHost(
        "monitor-01",
        "UTC",
        ("ops",),
        "healthy monitoring host: a heartbeat every 5 minutes, an entry paused by cronops",
        {
            "/etc/crontab": DEBIAN_CRONTAB,
            SPOOL + "root": """\
*/5 * * * * /usr/local/bin/heartbeat --push https://status.example.com/ping/3f9c
0 9 * * * /usr/local/bin/check-certs --warn 21d
{paused}0 * * * * /usr/local/bin/disk-report --all
30 9 * * 1 /usr/local/bin/kpi-report --uptime
0 7 * * 1-5 /usr/local/bin/check-certs --external
""",
        },
    ),
    DemoHost(
        "build-01",
        "UTC",
        ("ci",),
        "cron_not_running: cron was stopped for maintenance 2 days ago and never restarted",
        {
            "/etc/crontab": DEBIAN_CRONTAB,
            "/etc/cron.d/ci": """\
0 * * * * root /usr/local/bin/docker-prune --until 24h
30 1 * * * root /usr/local/bin/build-cleanup --workspaces
""",
            SPOOL + "deploy": """\
15 */2 * * * /usr/local/bin/mirror-sync --repo apt
45 2 * * * /usr/local/bin/prune-releases --keep 3
""",
        },
        expect=frozenset({"cron_not_running", "missed"}),
        cron_stopped=2 * DAY + timedelta(hours=3),
    ),
    DemoHost(
        "legacy-01",
        "Europe/Berlin",
        ("legacy",),
        "unreachable: refuses connections",
        {
            SPOOL + "root": """\
0 3 * * * /usr/local/bin/pg-backup --legacy
30 * * * * /usr/local/bin/sync-crm --legacy
15 4 * * * /usr/local/bin/logrotate-app /srv/legacy/log
""",
        },
        expect=frozenset({"unreachable"}),
        reachable=False,
    ),
    DemoHost(
        "cache-01",
        "Asia/Singapore",
        ("web", "prod"),
        "healthy cache host, Asian zone",
        {
            SPOOL + "root": """\
0 * * * * /usr/local/bin/redis-snapshot --bgsave
45 3 * * * /usr/local/bin/logrotate-app /var/log/redis
30 4 * * 0 /usr/local/bin/prune-snapshots --keep 4
""",
            SPOOL + "www-data": """\
*/15 * * * * /usr/local/bin/warm-cache --site shop-sg
10 3 * * * /usr/local/bin/purge-sessions --older-than 3d
0 5 * * 0 /usr/local/bin/prune-releases --keep 3
""",
        },
    ),
    DemoHost(
        "search-01",
        "America/New_York",
        ("search", "prod"),
        "healthy search host: long nightly reindex",
        {
            "/etc/cron.d/search": """\
0 1 * * * root /usr/local/bin/es-snapshot --repo s3-backups
30 2 * * * deploy /usr/local/bin/reindex-search --incremental
0 5 * * 0 deploy /usr/local/bin/reindex-search --full
20 5 * * * root /usr/local/bin/logrotate-app /var/log/elasticsearch
30 6 * * * root /usr/local/bin/check-certs --warn 14d
10 3 * * * root /usr/local/bin/disk-report /var/lib/elasticsearch
""",
        },
        expect=frozenset({"lint"}),
    ),
)

POLICY = PolicyBook.from_tables(
    tags={
        # Billing's jobs wake someone; the rest of the fleet's are warnings, staging's info.
        "billing": {
            "tier": "critical",
            "runbook": "https://wiki.example.com/runbooks/billing-jobs",
        },
        "staging": {"tier": "low"},
    },
    jobs=[
        {
            "command": "export-warehouse",
            "max_duration": "2h",
            "tier": "critical",
            "runbook": "https://wiki.example.com/runbooks/warehouse-export",
        }
    ],
)

# Accounts beyond Debian's base ones, as the hosts' crontabs need them.
ACCOUNTS = {
    "postgres": "postgres:x:114:121:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash",
    "deploy": "deploy:x:1001:1001:Deploy,,,:/home/deploy:/bin/bash",
    "billing": "billing:x:1002:1002:Billing jobs,,,:/home/billing:/bin/bash",
    "reports": "reports:x:1003:1003:Reports,,,:/home/reports:/bin/bash",
    "etl": "etl:x:1004:1004:ETL pipelines,,,:/home/etl:/bin/bash",
}
BASE_PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
