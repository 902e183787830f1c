-- cronops history schema version 16, as released (tests upgrade from it)
CREATE TABLE "hosts" (
   "name" TEXT PRIMARY KEY,
   "address" TEXT,
   "status" TEXT,
   "error" TEXT,
   "latency_ms" REAL,
   "hostname" TEXT,
   "zone" TEXT,
   "clock_skew_s" REAL,
   "cron_running" INTEGER,
   "scanned_at" TEXT,
   "ok_at" TEXT,
   "coverage_start" TEXT,
   "logs" TEXT,
   "log_level" INTEGER,
   "ends_logged" INTEGER,
   "failures_logged" INTEGER
, "cron_family" TEXT, "booted_at" TEXT, "cron_started_at" TEXT, "no_mta_at" TEXT, "tags" TEXT);
CREATE TABLE "scans" (
   "id" INTEGER PRIMARY KEY,
   "host" TEXT,
   "started_at" TEXT,
   "finished_at" TEXT,
   "status" TEXT,
   "error" TEXT,
   "entries" INTEGER,
   "new_runs" INTEGER,
   "log_lines" INTEGER,
   "garbage_lines" INTEGER
);
CREATE TABLE "crontabs" (
   "host" TEXT,
   "path" TEXT,
   "kind" TEXT,
   "owner" TEXT,
   "mtime" TEXT,
   "sha256" TEXT,
   "text" TEXT,
   "read_at" TEXT,
   PRIMARY KEY ("host", "path")
);
CREATE TABLE "crontab_versions" (
   "id" INTEGER PRIMARY KEY,
   "host" TEXT,
   "path" TEXT,
   "sha256" TEXT,
   "text" TEXT,
   "seen_at" TEXT
, "mtime" TEXT, "kind" TEXT, "owner" TEXT);
CREATE TABLE "entries" (
   "id" TEXT PRIMARY KEY,
   "host" TEXT,
   "source" TEXT,
   "user" TEXT,
   "schedule" TEXT,
   "command" TEXT,
   "env" TEXT,
   "line" INTEGER,
   "text" TEXT,
   "disabled" INTEGER,
   "paused" TEXT,
   "log_off" INTEGER,
   "first_seen" TEXT,
   "last_seen" TEXT,
   "present" INTEGER
);
CREATE TABLE "entry_versions" (
   "id" INTEGER PRIMARY KEY,
   "entry_id" TEXT,
   "seen_at" TEXT,
   "schedule" TEXT,
   "command" TEXT,
   "line" INTEGER,
   "text" TEXT,
   "disabled" INTEGER,
   "paused" TEXT
);
CREATE TABLE "crontab_problems" (
   "host" TEXT,
   "source" TEXT,
   "line" INTEGER,
   "text" TEXT,
   "message" TEXT
);
CREATE TABLE "log_cursors" (
   "host" TEXT,
   "path" TEXT,
   "inode" INTEGER,
   "offset" INTEGER,
   "head_len" INTEGER,
   "head_hash" TEXT,
   "journal_cursor" TEXT, "tail_len" INTEGER, "tail_hash" TEXT, "archive_mtime" INTEGER, "mailbox" INTEGER,
   PRIMARY KEY ("host", "path")
);
CREATE TABLE "processes" (
   "host" TEXT,
   "pid" INTEGER,
   "user" TEXT,
   "started_at" TEXT,
   "command" TEXT,
   "entry_id" TEXT,
   "seen_at" TEXT
);
CREATE INDEX "idx_entries_host"
    ON "entries" ("host");
CREATE INDEX "idx_crontab_versions_host_path"
    ON "crontab_versions" ("host", "path");
CREATE INDEX "idx_entry_versions_entry_id"
    ON "entry_versions" ("entry_id");
CREATE INDEX "idx_scans_host_started_at"
    ON "scans" ("host", "started_at");
CREATE TABLE "actions" (
   "id" INTEGER PRIMARY KEY,
   "at" TEXT,
   "actor" TEXT,
   "host" TEXT,
   "entry_id" TEXT,
   "new_entry_id" TEXT,
   "action" TEXT,
   "path" TEXT,
   "line" INTEGER,
   "before" TEXT,
   "after" TEXT,
   "crontab_before" TEXT,
   "crontab_after" TEXT,
   "result" TEXT,
   "detail" TEXT
, "login" TEXT);
CREATE INDEX "idx_actions_entry_id"
    ON "actions" ("entry_id");
CREATE TABLE "crontab_edits" (
   "id" INTEGER PRIMARY KEY,
   "host" TEXT,
   "at" TEXT,
   "pid" INTEGER,
   "actor" TEXT,
   "user" TEXT,
   "action" TEXT
);
CREATE UNIQUE INDEX "idx_crontab_edits_host_at_pid_action_user_actor"
    ON "crontab_edits" ("host", "at", "pid", "action", "user", "actor");
CREATE TABLE "run_days" (
   "host" TEXT,
   "day" TEXT,
   "entry_id" TEXT,
   "runs" INTEGER,
   "ok" INTEGER,
   "failed" INTEGER,
   "killed" INTEGER,
   "unknown" INTEGER,
   "manual" INTEGER,
   "p50_s" REAL,
   "p95_s" REAL,
   "max_s" REAL,
   PRIMARY KEY ("host", "day", "entry_id")
);
CREATE INDEX "idx_run_days_entry_id_day"
    ON "run_days" ("entry_id", "day");
CREATE TABLE "incidents" (
   "id" INTEGER PRIMARY KEY,
   "host" TEXT,
   "entry_id" TEXT,
   "kind" TEXT,
   "severity" TEXT,
   "state" TEXT,
   "first_seen" TEXT,
   "opened_at" TEXT,
   "last_seen" TEXT,
   "count" INTEGER,
   "streak" INTEGER,
   "streak_since" TEXT,
   "summary" TEXT,
   "detail" TEXT,
   "evidence" TEXT,
   "runbook" TEXT,
   "jobs" TEXT,
   "resolved_at" TEXT,
   "resolved_why" TEXT,
   "ack_by" TEXT,
   "ack_at" TEXT,
   "ack_note" TEXT,
   "ack_until" TEXT,
   "finding" TEXT
);
CREATE UNIQUE INDEX incidents_identity on incidents (host, ifnull(entry_id, ''), kind);
CREATE INDEX "idx_incidents_state"
    ON "incidents" ("state");
CREATE TABLE "deliveries" (
   "id" INTEGER PRIMARY KEY,
   "route" TEXT NOT NULL,
   "shown" TEXT,
   "incident_id" INTEGER NOT NULL,
   "episode" TEXT NOT NULL,
   "event" TEXT NOT NULL,
   "severity" TEXT,
   "state" TEXT NOT NULL,
   "attempts" INTEGER NOT NULL,
   "decided_at" TEXT NOT NULL,
   "sent_at" TEXT,
   "next_attempt_at" TEXT,
   "error" TEXT
);
CREATE UNIQUE INDEX "idx_deliveries_route_incident_id_episode_event"
    ON "deliveries" ("route", "incident_id", "episode", "event");
CREATE INDEX "idx_deliveries_state"
    ON "deliveries" ("state");
CREATE TABLE "daemon_lines" (
   "id" INTEGER PRIMARY KEY,
   "host" TEXT,
   "at" TEXT,
   "user" TEXT,
   "keyword" TEXT,
   "detail" TEXT
);
CREATE UNIQUE INDEX "idx_daemon_lines_host_at_keyword_user_detail"
    ON "daemon_lines" ("host", "at", "keyword", "user", "detail");
CREATE TABLE "command_lookups" (
   "host" TEXT,
   "path" TEXT,
   "command" TEXT,
   "found" INTEGER,
   "checked_at" TEXT,
   PRIMARY KEY ("host", "path", "command")
);
CREATE TABLE "runs" (id integer primary key, host text, entry_id text, user text,
            command text, started_at text, ended_at text, status integer, signal integer,
            pid integer, source text, dialect text, trigger text, output_tail text,
            folded integer, output_size integer, output_from text, "still_open" INTEGER);
CREATE UNIQUE INDEX runs_identity on "runs" (host, started_at, ifnull(pid, -1), ifnull(user, ''), ifnull(command, ''));
CREATE INDEX "idx_runs_entry_id_started_at"
    ON "runs" ("entry_id", "started_at");
CREATE INDEX idx_runs_kept on runs (host) where folded = 1;
CREATE TABLE "judgements" (
   "host" TEXT PRIMARY KEY,
   "inputs" TEXT,
   "due_at" TEXT,
   "due_start" TEXT,
   "crontabs" TEXT,
   "read_at" TEXT,
   "policy" TEXT,
   "drift" TEXT,
   "drift_due" TEXT
);
CREATE INDEX runs_open on runs (host, started_at) where still_open = 1;
CREATE INDEX daemon_lines_kind on daemon_lines (host, keyword, at, user, detail);
CREATE INDEX crontab_problems_host on crontab_problems (host);
CREATE INDEX actions_host on actions (host, at);
CREATE TABLE "entry_judgements" (
   "host" TEXT,
   "entry_id" TEXT,
   "due_at" TEXT,
   "due_start" TEXT,
   PRIMARY KEY ("host", "entry_id")
);
PRAGMA user_version = 16;
