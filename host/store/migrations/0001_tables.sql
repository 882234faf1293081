-- stepbox schema 1: the store's ordered byte tables (see host/store/src/backend.rs),
-- one table each, keyed by bytes in byte order (bytea compares as memcmp).

CREATE TABLE stepbox_meta (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_state_machines (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_versions (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_aliases (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_tags (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_functions (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_function_code (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_artifacts (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_executions (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_execution_arn_hashes (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_executions_by_machine (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_running (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_events (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_checkpoints (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_task_tokens (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_activities (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_function_versions (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE stepbox_definitions (key bytea PRIMARY KEY, value bytea NOT NULL);
