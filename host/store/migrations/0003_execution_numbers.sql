-- stepbox schema 3: execution numbers from one sequence, so several hosts on
-- one database never hand out the same one. Each value v of the sequence
-- is a block of numbers [v * 64, v * 64 + 64) that one writer transaction
-- uses (see host/store/src/postgres/write.rs); it starts past the largest
-- number in use. Execution keys are 8 bytes, big-endian.

CREATE SEQUENCE stepbox_execution_blocks AS bigint MINVALUE 1;
SELECT setval(
    'stepbox_execution_blocks',
    coalesce((SELECT max(('x' || encode(key, 'hex'))::bit(64)::bigint) FROM stepbox_executions), 0) / 64 + 1,
    false
);
