-- The stream hub reads what changed since its last look: runs by updated_at,
-- so one indexed range scan per tick finds every run that moved.
CREATE INDEX runs_updated ON runs (updated_at);
