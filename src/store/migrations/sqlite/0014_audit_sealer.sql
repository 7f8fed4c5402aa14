-- PostgreSQL defers sealing of start-path audit entries (see its 0014). SQLite
-- has one writer, where sealing in the writing transaction costs nothing
-- extra, so every SQLite entry is sealed when written; the index keeps the
-- sealer's query the same on both.
CREATE INDEX audit_log_unsealed ON audit_log (tenant_id, id) WHERE seq IS NULL;
