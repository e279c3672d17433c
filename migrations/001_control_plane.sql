-- Sluice control plane: runs, step log, file ledger, rejects, state.
CREATE TABLE sluice.runs (
  id uuid PRIMARY KEY,
  pipeline text NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
  as_of date NOT NULL,
  dry_run boolean NOT NULL DEFAULT false,
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 1,
  host text,
  pid integer,
  rows_read bigint NOT NULL DEFAULT 0,
  rows_loaded bigint NOT NULL DEFAULT 0,
  rows_rejected bigint NOT NULL DEFAULT 0,
  files_loaded integer NOT NULL DEFAULT 0,
  files_rejected integer NOT NULL DEFAULT 0,
  files_skipped integer NOT NULL DEFAULT 0,
  -- Milliseconds spent per step (fetch, parse, load, commit, archive, ...), summed over files.
  timings jsonb NOT NULL DEFAULT '{}'::jsonb,
  error_code text,
  error text
);
CREATE INDEX runs_pipeline_started ON sluice.runs (pipeline, started_at DESC);
CREATE INDEX runs_running ON sluice.runs (pipeline) WHERE status = 'running';

-- The step log of seed 001: one line per step, with the step's and the run's elapsed time.
CREATE TABLE sluice.logs (
  id bigserial PRIMARY KEY,
  logged_at timestamptz NOT NULL DEFAULT now(),
  run_id uuid,
  pipeline text,
  level text NOT NULL,
  step integer,
  step_ms integer,
  total_ms integer,
  message text NOT NULL,
  data jsonb
);
CREATE INDEX logs_run ON sluice.logs (run_id, id);

-- Every file a pipeline met, with what became of it. A content hash loads once per pipeline.
CREATE TABLE sluice.files (
  id bigserial PRIMARY KEY,
  pipeline text NOT NULL,
  run_id uuid NOT NULL REFERENCES sluice.runs (id),
  source text NOT NULL,
  name text NOT NULL,
  size bigint NOT NULL,
  sha256 text NOT NULL,
  status text NOT NULL CHECK (status IN ('loaded', 'rejected', 'skipped')),
  reason text,
  rows_read bigint NOT NULL DEFAULT 0,
  rows_loaded bigint NOT NULL DEFAULT 0,
  rows_rejected bigint NOT NULL DEFAULT 0,
  duplicate_of bigint REFERENCES sluice.files (id),
  recorded_at timestamptz NOT NULL DEFAULT now(),
  archived_to text,
  archived_at timestamptz
);
CREATE UNIQUE INDEX files_loaded_once ON sluice.files (pipeline, sha256) WHERE status = 'loaded';
CREATE INDEX files_run ON sluice.files (run_id);

-- One row per rule a row broke (a whole-file reject is one row with rule 'layout').
CREATE TABLE sluice.rejects (
  id bigserial PRIMARY KEY,
  run_id uuid NOT NULL REFERENCES sluice.runs (id),
  pipeline text NOT NULL,
  file_id bigint REFERENCES sluice.files (id),
  file text NOT NULL,
  line integer,
  column_name text,
  rule text NOT NULL,
  value text,
  message text NOT NULL,
  raw text,
  rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejects_run ON sluice.rejects (run_id);

-- Watermarks and other per-pipeline state, written in the transaction of the load they describe.
CREATE TABLE sluice.state (
  pipeline text NOT NULL,
  key text NOT NULL,
  value jsonb NOT NULL,
  run_id uuid,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pipeline, key)
);

-- What the SQL of a load step can ask about the load it runs in (set per transaction by the runner).
CREATE FUNCTION sluice.run_id() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('sluice.run_id', true), '')::uuid $$;
CREATE FUNCTION sluice.as_of() RETURNS date LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('sluice.as_of', true), '')::date $$;
CREATE FUNCTION sluice.file_name() RETURNS text LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('sluice.file_name', true), '') $$;
CREATE FUNCTION sluice.file_id() RETURNS bigint LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('sluice.file_id', true), '')::bigint $$;
