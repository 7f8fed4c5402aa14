-- Alert channels (per tenant, or global with tenant_id NULL) and their
-- deliveries. A delivery is written in the same transaction as the event
-- that causes it (a run ending), and sent by a durable job with retries; a
-- channel whose deliveries keep failing is switched off and says why.
CREATE TABLE alert_channels (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id INTEGER REFERENCES tenants(id),
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('webhook', 'chat', 'email')),
  target TEXT NOT NULL,               -- the URL, or the email recipients (comma-separated)
  secret_enc TEXT,                    -- webhook signing secret, sealed; never returned
  events TEXT NOT NULL,               -- JSON array of event types
  enabled INTEGER NOT NULL DEFAULT 1,
  disabled_reason TEXT,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  created_by INTEGER REFERENCES users(id),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX alert_channels_tenant ON alert_channels (tenant_id);
CREATE TABLE alert_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  channel_id INTEGER NOT NULL REFERENCES alert_channels(id) ON DELETE CASCADE,
  tenant_id INTEGER REFERENCES tenants(id),
  event TEXT NOT NULL,                -- run.failed, run.partially_succeeded, ...
  payload TEXT NOT NULL,              -- the event as JSON (no secrets)
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX alert_deliveries_channel ON alert_deliveries (channel_id, id);
-- The portfolio view looks up each tenant's runs by type, and its newest sets.
CREATE INDEX runs_tenant_type ON runs (tenant_id, type, id);
CREATE INDEX backup_sets_tenant_created ON backup_sets (tenant_id, created_at);
