-- Drift detection: what changed in a tenant since its baseline (a backup set
-- pinned as baseline, else its newest successful backup), found by drift
-- runs. A finding stays open while the object differs; at most one is open
-- per object (the partial unique index), and closed ones are its history.
ALTER TABLE backup_sets ADD COLUMN baseline INTEGER NOT NULL DEFAULT 0;
-- A set made by accepting drift: the baseline it copied (NULL: a backup).
ALTER TABLE backup_sets ADD COLUMN derived_from INTEGER;
CREATE TABLE drift_findings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  policy_type TEXT NOT NULL,
  graph_id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('added', 'removed', 'changed')),
  status TEXT NOT NULL CHECK (status IN ('open', 'accepted', 'reverted', 'resolved')),
  baseline_set_id INTEGER,            -- the set the object was compared with
  baseline_item_id INTEGER,           -- the object's item there (NULL: added)
  live_version_id INTEGER,            -- the live state as captured (NULL: removed)
  diff TEXT NOT NULL,                 -- JSON [{path, before (baseline), after (live)}]
  actor TEXT NOT NULL,                -- who changed it, per Intune's audit log, or 'unknown'
  actor_detail TEXT NOT NULL,         -- the audit activity, or why the actor is unknown
  changed_at INTEGER,                 -- when, per the audit log (ms)
  first_run_id INTEGER NOT NULL,
  last_run_id INTEGER NOT NULL,
  first_seen_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  closed_at INTEGER,
  closed_by INTEGER REFERENCES users(id),
  close_note TEXT,
  revert_run_id INTEGER,              -- the restore preview a revert started
  accepted_set_id INTEGER             -- the baseline an accept made
);
CREATE UNIQUE INDEX drift_findings_open ON drift_findings (tenant_id, policy_type, graph_id)
  WHERE status = 'open';
CREATE INDEX drift_findings_tenant ON drift_findings (tenant_id, id);

-- Per-tenant retention: a rule over every backup set of the tenant (JSON
-- {keep_last, keep_days, gfs_daily, gfs_weekly, gfs_monthly, time_zone}; NULL:
-- none). A set is kept while any rule that applies to it (its schedule's, the
-- tenant's) keeps it.
ALTER TABLE tenants ADD COLUMN retention TEXT;
