-- stepbox schema 4: each running Standard execution is owned by one host
-- through a lease. A host renews one row of its own (stepbox_hosts) while
-- it lives; a lease whose host's row expired is taken over by another host
-- (SELECT … FOR UPDATE SKIP LOCKED), which bumps its epoch. Every write of
-- an execution's journal checks the epoch it holds (FOR SHARE), so a host
-- that lost a lease writes nothing more to that execution.

CREATE TABLE stepbox_hosts (
    host text PRIMARY KEY,
    expires timestamptz NOT NULL
);

CREATE TABLE stepbox_leases (
    key bytea PRIMARY KEY,          -- the execution's number, as in stepbox_running
    host text NOT NULL,
    epoch bigint NOT NULL
);

-- Executions running before leases existed belong to no live host: the
-- first host to look takes them over.
INSERT INTO stepbox_leases (key, host, epoch) SELECT key, '', 0 FROM stepbox_running;

-- Requests for the host that owns an execution (a task token's answer, a
-- StopExecution), sent through whichever host a client called: the owner
-- takes the ones addressed to it, applies them and writes the answer, which
-- the sending host waits for.
CREATE TABLE stepbox_requests (
    id bigserial PRIMARY KEY,
    host text NOT NULL,
    request text NOT NULL,
    answer text
);
CREATE INDEX stepbox_requests_open ON stepbox_requests (host) WHERE answer IS NULL;

-- Answers to task tokens (SendTaskSuccess/Failure) of running executions,
-- recorded under the execution's lease before they are acknowledged: a
-- host that takes an execution over hands them to its tasks as they wait
-- again. They go with the lease.
CREATE TABLE stepbox_answers (
    token text PRIMARY KEY,
    key bytea NOT NULL,             -- the execution's number, as in stepbox_leases
    signal text NOT NULL
);
CREATE INDEX stepbox_answers_key ON stepbox_answers (key);
