-- stepbox schema 6: the function invocations an execution's Task states
-- made (duration, error, the tail of the log), kept with the execution and
-- deleted with it, keyed by `execution number, n` (both big-endian: see
-- host/store/src/store/invocations.rs).

CREATE TABLE stepbox_invocations (key bytea PRIMARY KEY, value bytea NOT NULL);
