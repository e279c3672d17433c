-- Operations: tasks in the run ledger, retention's indexes, and the record of exported files.

-- What a run ran: 'pipeline', or a task's type ('command', 'maintenance', 'backup'). Tasks claim their
-- run as pipelines do (one running run per name), so a task never runs twice at once.
ALTER TABLE sluice.runs ADD COLUMN kind text NOT NULL DEFAULT 'pipeline';

-- Retention deletes by age in bounded batches: these keep each batch an index range scan.
CREATE INDEX logs_logged_at ON sluice.logs (logged_at);
CREATE INDEX rejects_rejected_at ON sluice.rejects (rejected_at);
CREATE INDEX files_recorded_unloaded ON sluice.files (recorded_at) WHERE status <> 'loaded';
CREATE INDEX runs_ended_at ON sluice.runs (ended_at) WHERE status NOT IN ('running', 'stopped');

-- Every file an export loader (files, sftp) writes: recorded with the run's commit, completed once the file
-- is in place under its final name. A rerun of the same run (or as-of date) finds its file here and does
-- not write a second copy. Retention never purges it.
CREATE TABLE sluice.exports (
  id bigserial PRIMARY KEY,
  pipeline text NOT NULL,
  run_id uuid NOT NULL,
  as_of date NOT NULL,
  -- Where it went: a local folder, or sftp://user@host:port/folder (never a password).
  destination text NOT NULL,
  name text NOT NULL,
  size bigint NOT NULL,
  sha256 text NOT NULL,
  rows bigint NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  UNIQUE (pipeline, destination, name)
);
