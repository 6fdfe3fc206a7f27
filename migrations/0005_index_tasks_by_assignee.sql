-- lockstep:no-transaction
-- Built without blocking writes. Runs outside a transaction, so it must be safe to re-run: an interrupted
-- CREATE INDEX CONCURRENTLY leaves an INVALID index behind, which IF NOT EXISTS would keep; drop it first.
DROP INDEX CONCURRENTLY IF EXISTS tasks_assignee_id_idx;

CREATE INDEX CONCURRENTLY tasks_assignee_id_idx ON tasks (assignee_id) WHERE assignee_id IS NOT NULL;
