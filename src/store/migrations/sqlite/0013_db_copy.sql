-- `tenantatlas db migrate` (a copy of a SQLite installation into this
-- database): the copy in progress or done (one row), and per table how far it
-- got. The cursor of a table commits with the rows it copied, so a killed copy
-- resumes exactly where it stopped. While finished_at is NULL the database is
-- incomplete, and every process but the copy refuses to open it.
CREATE TABLE db_copy (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  source TEXT NOT NULL,
  started_at BIGINT NOT NULL,
  finished_at BIGINT
);
CREATE TABLE db_copy_tables (
  table_name TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
  source_rows BIGINT NOT NULL,
  last_rowid BIGINT NOT NULL DEFAULT 0,
  rows_copied BIGINT NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0
);
