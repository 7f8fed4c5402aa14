-- Tags on tenants (a JSON array of strings), found by the tenant picker's
-- search; one notification per (user, run), rewritten as the run's status
-- changes; each user's notification preference.
ALTER TABLE tenants ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
DELETE FROM notifications WHERE run_id IS NOT NULL AND id NOT IN (
  SELECT MAX(id) FROM notifications WHERE run_id IS NOT NULL GROUP BY user_id, run_id);
CREATE UNIQUE INDEX notifications_user_run ON notifications (user_id, run_id);
ALTER TABLE users ADD COLUMN notify TEXT NOT NULL DEFAULT 'all';
