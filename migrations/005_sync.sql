-- Leases: who runs a pipeline now, seen by every process and machine (beside the advisory lock that
-- guards it); `sluice cleanup` reaps a lease whose heartbeat stopped.
CREATE TABLE sluice.leases (
  pipeline text PRIMARY KEY,
  run_id uuid NOT NULL,
  host text NOT NULL,
  pid integer NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- What cleanup and retries need to know of a run: how long it may take and which file defines it.
ALTER TABLE sluice.runs ADD COLUMN max_run_ms bigint;
ALTER TABLE sluice.runs ADD COLUMN spec_file text;
-- A reaped run says so; 'failed' stays the status so that retries find it.
ALTER TABLE sluice.runs ADD COLUMN reaped_at timestamptz;
-- Units of record sources loaded by the run (they have no file ledger rows).
ALTER TABLE sluice.runs ADD COLUMN units_loaded integer NOT NULL DEFAULT 0;
