-- Settings catalog setting definitions, cached per tenant when a backup
-- captures a policy that uses them: what documentation export shows instead
-- of raw setting ids and option ids.
CREATE TABLE setting_definitions (
  tenant_id BIGINT NOT NULL REFERENCES tenants(id),
  definition_id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  options TEXT NOT NULL,  -- JSON object: option itemId -> display name
  fetched_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, definition_id)
);
