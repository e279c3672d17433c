-- One claim per pipeline run: the run row itself. A process claims it (locked_by, locked_at) and keeps
-- it alive with heartbeat_at; no connection is held between statements. Every commit of the run checks
-- that it still holds the claim, so a process presumed dead cannot load after its run was taken over.
ALTER TABLE sluice.runs ADD COLUMN locked_by text;
ALTER TABLE sluice.runs ADD COLUMN locked_at timestamptz;

-- 'stopped': interrupted on purpose (Ctrl-C, SIGTERM, shutdown); the next run resumes it.
ALTER TABLE sluice.runs DROP CONSTRAINT runs_status_check;
ALTER TABLE sluice.runs ADD CONSTRAINT runs_status_check
  CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted', 'stopped'));

-- Leftovers from before claims: only the newest running run of a pipeline stays running.
UPDATE sluice.runs r SET status = 'interrupted', ended_at = now(),
    error = coalesce(error, 'the process stopped before the run finished')
  WHERE status = 'running' AND NOT dry_run
    AND EXISTS (SELECT 1 FROM sluice.runs n
                 WHERE n.pipeline = r.pipeline AND n.status = 'running' AND NOT n.dry_run
                   AND (n.started_at, n.id) > (r.started_at, r.id));

-- At most one claimed run per pipeline: two processes can never run one pipeline at once.
CREATE UNIQUE INDEX runs_one_running ON sluice.runs (pipeline) WHERE status = 'running' AND NOT dry_run;
DROP INDEX sluice.runs_running;

-- Leases were a second record of who runs a pipeline: the claim replaces them.
DROP TABLE sluice.leases;
