-- Audit entries appended on the start path are sealed after commit: a run
-- start inserts its entry without seq and hashes (no lock on the tenant's
-- chain head), and a sealer (store/audit_log.h, AuditSealer) assigns seq,
-- prev_hash and hash in order, per tenant, moments later. Verification walks
-- the sealed entries; an unsealed one is reported as waiting.
ALTER TABLE audit_log ALTER COLUMN seq DROP NOT NULL;
ALTER TABLE audit_log ALTER COLUMN prev_hash DROP NOT NULL;
ALTER TABLE audit_log ALTER COLUMN hash DROP NOT NULL;
CREATE INDEX audit_log_unsealed ON audit_log (tenant_id, id) WHERE seq IS NULL;
