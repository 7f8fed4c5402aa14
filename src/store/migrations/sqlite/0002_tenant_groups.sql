-- Groups synced from each tenant (for group mapping suggestions and checks).
CREATE TABLE tenant_groups (
  tenant_id INTEGER NOT NULL REFERENCES tenants(id),
  graph_id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  synced_at INTEGER NOT NULL,
  gone_at INTEGER,
  PRIMARY KEY (tenant_id, graph_id)
);
CREATE INDEX tenant_groups_name ON tenant_groups (tenant_id, display_name);
