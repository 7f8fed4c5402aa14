-- Schedules: a cron expression in an IANA time zone that starts runs for a
-- set of tenants. A slot is decided once (compare-and-set on slots_after)
-- and each tenant's run of a slot starts once (the primary key of
-- schedule_fires, written in the run's own transaction), on any number of
-- nodes.
CREATE TABLE schedules (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  cron TEXT NOT NULL,
  time_zone TEXT NOT NULL,
  tenant_ids TEXT,                    -- JSON array of tenant ids; NULL = every tenant
  tag TEXT,                           -- only tenants with this tag
  operation TEXT NOT NULL,            -- backup
  jitter_seconds INTEGER NOT NULL DEFAULT 0,
  enabled INTEGER NOT NULL DEFAULT 1,
  created_by INTEGER REFERENCES users(id),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  slots_after INTEGER NOT NULL,          -- slots at or before this instant are decided (ms)
  -- Retention of the backup sets this schedule made (each NULL = not used;
  -- all NULL = keep everything): the newest N, those younger than N days,
  -- and grandfather-father-son: the newest set of each of the last N days,
  -- ISO weeks and months (in the schedule's time zone).
  keep_last INTEGER,
  keep_days INTEGER,
  gfs_daily INTEGER,
  gfs_weekly INTEGER,
  gfs_monthly INTEGER
);
CREATE TABLE schedule_slots (
  schedule_id INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
  slot_at INTEGER NOT NULL,              -- the instant the slot fires (ms)
  decided_at INTEGER NOT NULL,
  decided_by TEXT NOT NULL,           -- the node that decided it
  missed_count INTEGER NOT NULL DEFAULT 0,  -- earlier slots not fired while no scheduler ran
  missed TEXT NOT NULL DEFAULT '[]',  -- the first of them (ms), a JSON array
  targets TEXT NOT NULL,              -- JSON [{"tenant_id", "due_at"}]: each tenant's start time
  state TEXT NOT NULL CHECK (state IN ('firing', 'fired')),
  fired_at INTEGER,
  PRIMARY KEY (schedule_id, slot_at)
);
CREATE INDEX schedule_slots_firing ON schedule_slots (state);
CREATE TABLE schedule_fires (
  schedule_id INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
  slot_at INTEGER NOT NULL,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  run_id INTEGER NOT NULL REFERENCES runs(id),
  reused INTEGER NOT NULL DEFAULT 0,     -- the tenant's run of this schedule was still active
  fired_at INTEGER NOT NULL,
  PRIMARY KEY (schedule_id, slot_at, tenant_id)
);
CREATE INDEX schedule_fires_tenant ON schedule_fires (tenant_id, fired_at);

-- Legal hold: retention never deletes a pinned set.
ALTER TABLE backup_sets ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
-- A backup item's payload and assignments are its policy version's (a
-- version is stored once per distinct content, so a nightly backup of an
-- unchanged tenant adds item rows, not payload bytes). Items copied before
-- this migration whose content is their version's give up their copy.
UPDATE backup_items SET payload = '', assignments = '' WHERE content_hash =
  (SELECT v.content_hash FROM policy_versions v WHERE v.id = backup_items.policy_version_id);
