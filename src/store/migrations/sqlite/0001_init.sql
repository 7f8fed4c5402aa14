-- TenantAtlas schema v1 (SQLite). Times are Unix milliseconds. JSON is TEXT.
CREATE TABLE tenants (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  entra_tenant_id TEXT,
  client_id TEXT,
  client_secret_enc TEXT,             -- libsodium secretbox, base64; never returned by the API
  settings TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  email TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL DEFAULT '',
  password_hash TEXT,
  is_platform_admin INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  expires_at INTEGER,
  revoked_at INTEGER,
  last_used_at INTEGER,
  created_at INTEGER NOT NULL
);
CREATE TABLE memberships (
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  role TEXT NOT NULL CHECK (role IN ('owner', 'operator', 'readonly')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);
CREATE TABLE policies (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  policy_type TEXT NOT NULL,
  graph_id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  platform TEXT,
  odata_type TEXT,
  last_modified_at TEXT,
  gone_at INTEGER,                    -- deleted in Intune; kept here
  synced_at INTEGER NOT NULL,
  UNIQUE (tenant_id, policy_type, graph_id)
);
CREATE TABLE policy_versions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  policy_id INTEGER NOT NULL REFERENCES policies(id),
  version INTEGER NOT NULL,
  payload TEXT NOT NULL,
  assignments TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  run_id INTEGER,
  created_at INTEGER NOT NULL,
  UNIQUE (policy_id, version)
);
CREATE TABLE backup_sets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  run_id INTEGER,
  created_by INTEGER,
  created_at INTEGER NOT NULL
);
CREATE TABLE backup_items (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  backup_set_id INTEGER NOT NULL REFERENCES backup_sets(id),
  policy_id INTEGER NOT NULL REFERENCES policies(id),
  policy_version_id INTEGER NOT NULL REFERENCES policy_versions(id),
  policy_type TEXT NOT NULL,
  graph_id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  payload TEXT NOT NULL,
  assignments TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (backup_set_id, policy_id)
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  type TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'partially_succeeded', 'failed', 'cancelled')),
  idempotency_key TEXT NOT NULL,
  target_id TEXT,
  initiator_user_id INTEGER,
  params TEXT NOT NULL DEFAULT '{}',
  total INTEGER NOT NULL DEFAULT 0,
  processed INTEGER NOT NULL DEFAULT 0,
  succeeded INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  skipped INTEGER NOT NULL DEFAULT 0,
  error_code TEXT,
  error_message TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  updated_at INTEGER NOT NULL
);
-- At most one active run per (tenant, key): the race-free dedupe.
CREATE UNIQUE INDEX runs_active_key ON runs (tenant_id, idempotency_key) WHERE status IN ('queued', 'running');
CREATE INDEX runs_tenant ON runs (tenant_id, id);
CREATE TABLE run_items (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL REFERENCES runs(id),
  tenant_id INTEGER NOT NULL,
  item_ref TEXT NOT NULL,
  status TEXT NOT NULL,
  action TEXT,
  graph_id TEXT,
  error_code TEXT,
  error_message TEXT,
  details TEXT,
  attempts INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (run_id, item_ref)
);
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  run_id INTEGER,
  payload TEXT NOT NULL DEFAULT '{}',
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  priority INTEGER NOT NULL DEFAULT 100,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 5,
  run_at INTEGER NOT NULL,
  lease_until INTEGER,
  worker_id TEXT,
  dedupe_key TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX jobs_queued ON jobs (tenant_id, priority, run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_running ON jobs (tenant_id, lease_until) WHERE state = 'running';
CREATE INDEX jobs_run ON jobs (run_id);
CREATE UNIQUE INDEX jobs_active_dedupe ON jobs (tenant_id, dedupe_key)
  WHERE dedupe_key IS NOT NULL AND state IN ('queued', 'running');
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL,
  tenant_id INTEGER NOT NULL,
  run_id INTEGER,
  level TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  action TEXT,                        -- {"label":"View run","url":"/runs/7"}
  read_at INTEGER,
  created_at INTEGER NOT NULL
);
CREATE INDEX notifications_user ON notifications (user_id, id);
-- Append-only, hash-chained per tenant (tenant 0 = platform events).
CREATE TABLE audit_heads (
  tenant_id INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  actor_user_id INTEGER,
  action TEXT NOT NULL,
  target_type TEXT,
  target_id TEXT,
  run_id INTEGER,
  details TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE (tenant_id, seq)
);
