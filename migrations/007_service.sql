-- The service: schedules and their ticks, and runs keyed by the request that asked for them.

-- A schedule runs something on a cron expression in a time zone. What it runs: `kind` and `target`
-- (a pipeline name, a group, a report, an inbox account), with options such as force or maxConcurrent.
CREATE TABLE sluice.schedules (
  name text PRIMARY KEY,
  cron text NOT NULL,
  timezone text NOT NULL DEFAULT 'UTC',
  kind text NOT NULL,
  target text,
  options jsonb NOT NULL DEFAULT '{}'::jsonb,
  enabled boolean NOT NULL DEFAULT true,
  -- After downtime: 'skip' the ticks missed, or fire 'once' for all of them.
  catch_up text NOT NULL DEFAULT 'skip' CHECK (catch_up IN ('skip', 'once')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Each tick is claimed by inserting its row before its job is queued: however many schedulers run, a
-- tick fires once.
CREATE TABLE sluice.schedule_ticks (
  schedule text NOT NULL REFERENCES sluice.schedules (name) ON DELETE CASCADE,
  fire_at timestamptz NOT NULL,
  claimed_at timestamptz NOT NULL DEFAULT now(),
  claimed_by text NOT NULL,
  -- 'queued', or 'skipped' (missed during downtime under catch_up = 'skip').
  outcome text NOT NULL DEFAULT 'queued',
  job_id text,
  PRIMARY KEY (schedule, fire_at)
);

-- The request (a queued job, an API call) a run was started for: a job delivered twice finds the run its
-- first delivery started, and does not run the pipeline again.
ALTER TABLE sluice.runs ADD COLUMN request_id text;
CREATE UNIQUE INDEX runs_request ON sluice.runs (request_id) WHERE request_id IS NOT NULL;
