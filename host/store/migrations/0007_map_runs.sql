-- stepbox schema 7: distributed Map runs as last recorded (DescribeMapRun
-- and ListMapRuns after a restart), keyed as host/store/src/store/map_runs.rs says.

CREATE TABLE stepbox_map_runs (key bytea PRIMARY KEY, value bytea NOT NULL);
