-- Browser sessions (cookie = random secret; only its hash is stored).
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  secret_hash TEXT NOT NULL UNIQUE,
  user_id INTEGER NOT NULL REFERENCES users(id),
  csrf_token TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
  created_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
-- Idempotency-Key header: the first response per (user, key) is replayed.
CREATE TABLE idempotent_requests (
  user_id INTEGER NOT NULL,
  idem_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,         -- sha256(method, path, body): a reused key with another request is refused
  status INTEGER NOT NULL,
  location TEXT,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX policies_tenant ON policies (tenant_id, id);
CREATE INDEX backup_sets_tenant ON backup_sets (tenant_id, id);
CREATE INDEX memberships_user ON memberships (user_id);
