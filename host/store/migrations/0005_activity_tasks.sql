-- stepbox schema 5: activity tasks waiting for a worker, on a database
-- several hosts share. The host running an execution offers its activity
-- task here (by token: a resumed execution offers the same token again);
-- GetActivityTask on any host claims the oldest task of its activity with
-- DELETE … FOR UPDATE SKIP LOCKED, so each task goes to one worker. A task
-- whose state ended first is withdrawn by the host that offered it.

CREATE TABLE stepbox_activity_tasks (
    token text PRIMARY KEY,
    activity text NOT NULL,
    seq bigserial NOT NULL,         -- offer order: the oldest is handed out first
    host text NOT NULL,             -- the host that offered it (and may withdraw it)
    input text NOT NULL
);
CREATE INDEX stepbox_activity_tasks_queue ON stepbox_activity_tasks (activity, seq);
