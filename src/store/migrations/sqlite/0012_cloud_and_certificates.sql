-- The Microsoft cloud the tenant's directory lives in: global, usgov (GCC
-- High), usgovdod (DoD) or china. It selects the token authority, the Graph
-- base and the scope of every call made for the tenant.
ALTER TABLE tenants ADD COLUMN cloud TEXT NOT NULL DEFAULT 'global';
-- How the tenant's app authenticates: 'secret' (client_secret_enc holds the
-- sealed client secret) or 'certificate' (client_secret_enc holds the sealed
-- PEM private key, client_certificate the public certificate uploaded to the
-- app in Entra).
ALTER TABLE tenants ADD COLUMN credential_kind TEXT NOT NULL DEFAULT 'secret';
ALTER TABLE tenants ADD COLUMN client_certificate TEXT;
-- Master key rotations (`tenantatlas keys rotate`): the new key's id, and per
-- place sealed values live, how far the re-sealing got (JSON: {"tenants.
-- client_secret_enc": {"after": last id done, "done": rows, "resealed": rows}}),
-- committed with each batch, so a killed rotation resumes where it stopped.
CREATE TABLE key_rotations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  to_key TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  progress TEXT NOT NULL DEFAULT '{}'
);
-- The MSP's own multi-tenant app (one row): tenants onboarded through admin
-- consent (credential_kind 'platform') sign in with it. `sealed` is its
-- sealed client secret or private key.
CREATE TABLE platform_app (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  client_id TEXT NOT NULL,
  credential_kind TEXT NOT NULL,
  sealed TEXT NOT NULL,
  certificate TEXT,
  updated_at INTEGER NOT NULL
);
-- Admin-consent links handed out: the state's nonce, who asked, the tenant's
-- name and cloud, until when it may be used, and when it was (single use).
CREATE TABLE onboarding_states (
  nonce TEXT PRIMARY KEY,
  created_by INTEGER REFERENCES users(id),
  name TEXT,
  cloud TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER,
  tenant_id INTEGER REFERENCES tenants(id)
);
-- 1: the tenant was onboarded without a name; its next connection check names
-- it after the directory's organization (Graph /organization).
ALTER TABLE tenants ADD COLUMN name_from_directory INTEGER NOT NULL DEFAULT 0;
