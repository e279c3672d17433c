-- The lake: versioned datasets written as files to a folder or an S3 bucket by the `lake` loader.

-- A lake dataset: where it lives (no credentials) and how its files are laid out. `current_version`
-- mirrors the pointer object (`datasets/{id}/index/current_version.txt`), which readers follow.
CREATE TABLE sluice.lake_datasets (
  id text PRIMARY KEY,
  location text NOT NULL,
  settings jsonb NOT NULL DEFAULT '{}'::jsonb,
  current_version text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- A version goes staged (units add files in their load transactions) → ready (its manifest written, in
-- the run's last transaction) → published (the pointer flipped to it after the run committed) → pruned.
-- One version per dataset is open (staged or ready) at a time: a rerun after a crash continues it, so the
-- rows of units the ledger already counts as loaded are never lost nor written twice.
CREATE TABLE sluice.lake_versions (
  dataset text NOT NULL REFERENCES sluice.lake_datasets (id) ON DELETE CASCADE,
  version text NOT NULL,
  status text NOT NULL CHECK (status IN ('staged', 'ready', 'published', 'pruned')),
  mode text NOT NULL CHECK (mode IN ('full', 'delta')),
  -- The columns of the rows (name and type), as the first unit gave them: a delta merge reads files back
  -- with them.
  columns jsonb,
  based_on text,
  run_ids text[] NOT NULL DEFAULT '{}',
  rows bigint NOT NULL DEFAULT 0,
  manifest_key text,
  manifest jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  PRIMARY KEY (dataset, version)
);
CREATE UNIQUE INDEX lake_versions_open ON sluice.lake_versions (dataset) WHERE status IN ('staged', 'ready');

-- The data files of a version, each written by one unit (`unit_key`) into one partition; a unit written
-- again (a retry) overwrites its files and their rows here.
CREATE TABLE sluice.lake_files (
  dataset text NOT NULL,
  version text NOT NULL,
  key text NOT NULL,
  partition text NOT NULL,
  unit_key text NOT NULL,
  rows bigint NOT NULL,
  bytes bigint NOT NULL,
  sha256 text NOT NULL,
  series text[] NOT NULL DEFAULT '{}',
  min_time timestamptz,
  max_time timestamptz,
  -- Write order: in a delta merge a later row wins over an earlier one of the same keys.
  written_seq bigserial,
  PRIMARY KEY (dataset, version, key),
  FOREIGN KEY (dataset, version) REFERENCES sluice.lake_versions (dataset, version) ON DELETE CASCADE
);
