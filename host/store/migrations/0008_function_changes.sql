-- stepbox schema 8: a revision per function name, taken from a sequence by
-- every write of the function's record, code or published versions (its
-- deletion too), so every host that loaded a function loads it again (see
-- host/store/src/postgres/functions.rs).

CREATE SEQUENCE stepbox_function_revisions;
CREATE TABLE stepbox_function_changes (name text PRIMARY KEY, revision bigint NOT NULL);
