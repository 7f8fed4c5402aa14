-- The tenant's directory objects that policies refer to: groups, and (for
-- conditional access) users, applications (by appId) and directory roles (by
-- template id). Existing rows are groups.
ALTER TABLE tenant_groups ADD COLUMN kind TEXT NOT NULL DEFAULT 'group';
CREATE INDEX tenant_groups_kind_name ON tenant_groups (tenant_id, kind, display_name);
