-- Credential health: when the tenant's client secret expires (ms; NULL:
-- unknown), where that date came from ('entered' with the secret, or 'graph':
-- read by a connection check from the app's own passwordCredentials), and the
-- expiry warnings already raised for that date (0 none, 1 within 30 days,
-- 2 within 7 days, 3 expired). Setting a new date re-arms the warnings.
ALTER TABLE tenants ADD COLUMN credential_expires_at BIGINT;
ALTER TABLE tenants ADD COLUMN credential_expiry_source TEXT;
ALTER TABLE tenants ADD COLUMN credential_warned_stage INTEGER NOT NULL DEFAULT 0;
