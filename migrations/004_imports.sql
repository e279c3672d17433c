-- Import rules (seed 003's import configuration) and the datasets they produce.
-- A rule is validated by importRuleSchema (src/core/import-rule-spec.ts) when it is saved through Sluice and
-- again when the watcher reads it; the CHECKs below keep rows written by hand in SQL sane as well (a
-- JavaScript regex cannot be checked here: the watcher skips a rule whose pattern does not compile, saying so).
CREATE TABLE sluice.import_rules (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  description text,
  -- A JavaScript regular expression tested against the file's base name.
  file_pattern text NOT NULL,
  file_type text NOT NULL CHECK (file_type IN ('csv', 'xlsx', 'xls')),
  source_folder text NOT NULL CHECK (source_folder LIKE '/%'),
  archive_folder text NOT NULL CHECK (archive_folder LIKE '/%'),
  target_table text NOT NULL,
  strategy text NOT NULL DEFAULT 'evolve' CHECK (strategy IN ('evolve', 'ignore_new', 'strict')),
  mode text NOT NULL DEFAULT 'append' CHECK (mode IN ('append', 'replace')),
  priority integer NOT NULL DEFAULT 0,
  active boolean NOT NULL DEFAULT true,
  -- The parser's options (delimiter, encoding, sheet, headerRow, ...), as the csv/xlsx/xls parser takes them.
  parser_options jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- The dataset label: a template of {rule}, {name} and the pattern's groups ({1}, {client}); the rule name by default.
  dataset_label text,
  -- Where the dataset date comes from; null: datasets of this rule have no date.
  date_from text CHECK (date_from IN ('filename', 'column', 'cell', 'static')),
  date_delimiter text,
  date_token integer CHECK (date_token >= 1),
  date_format text,
  date_column text,
  date_cell text,
  date_value date,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT import_rules_folders_differ CHECK (rtrim(source_folder, '/') <> rtrim(archive_folder, '/')),
  CONSTRAINT import_rules_date_complete CHECK (
    date_from IS NULL
    OR (date_from = 'filename' AND coalesce(date_delimiter, '') <> '' AND date_token IS NOT NULL
        AND coalesce(date_format, '') <> '')
    OR (date_from = 'column' AND coalesce(date_column, '') <> '')
    OR (date_from = 'cell' AND coalesce(date_cell, '') <> '')
    OR (date_from = 'static' AND date_value IS NOT NULL)
  )
);

-- Every imported file is a dataset. Its rows carry its id (column dataset_id of the target table). The
-- latest import of a label and date is the current one (active, or empty when the file had no rows); the
-- ones it replaced become inactive in the same transaction.
CREATE TABLE sluice.datasets (
  id bigserial PRIMARY KEY,
  label text NOT NULL,
  date date,
  -- The rule's name when the file was imported (a rule may be renamed or deleted later).
  rule text NOT NULL,
  target_table text NOT NULL,
  status text NOT NULL CHECK (status IN ('new', 'active', 'inactive', 'failed', 'empty')),
  row_count bigint NOT NULL DEFAULT 0,
  file_id bigint REFERENCES sluice.files (id),
  file_name text NOT NULL,
  run_id uuid REFERENCES sluice.runs (id),
  -- The file's headers and the columns they became, in order: [{"header": "Fecha envío", "column": "fecha_envio"}].
  -- column is null for a header the table does not take (strategy ignore_new).
  column_map jsonb NOT NULL DEFAULT '[]'::jsonb,
  error text,
  superseded_by bigint REFERENCES sluice.datasets (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX datasets_one_current ON sluice.datasets (label, coalesce(date, 'infinity'::date))
  WHERE status IN ('active', 'empty');
CREATE INDEX datasets_rule ON sluice.datasets (rule, created_at DESC);
CREATE INDEX datasets_file ON sluice.datasets (file_id);
