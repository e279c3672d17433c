-- Reports (seed 003): mailed grids and attachments built from SQL queries, and the record of each send.
-- definition holds the report as written (environment references such as ${SMTP_PASSWORD} kept, so no
-- secret is stored); it is validated by reportSchema (src/core/report-spec.ts) when loaded and when sent.
CREATE TABLE sluice.reports (
  name text PRIMARY KEY,
  definition jsonb NOT NULL,
  schedule text,
  active boolean NOT NULL DEFAULT true,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sluice.report_sends (
  id bigserial PRIMARY KEY,
  report text NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT now(),
  recipients jsonb NOT NULL,
  -- Rows per query and per attachment (by file name); null for a query that failed.
  rows_per_query jsonb NOT NULL DEFAULT '{}'::jsonb,
  status text NOT NULL CHECK (status IN ('sent', 'failed', 'dry_run')),
  error text,
  eml_path text
);
CREATE INDEX report_sends_report ON sluice.report_sends (report, sent_at DESC);
