-- The visitor job of examples/visits/pipeline.yaml written by hand as one psql script: the reference of
-- bench/visits-job.ts. `\copy` into a text table, the checks as SQL filters and casts, the typed valid rows
-- replace statistics, then the pipeline's own afterLoad and afterRun SQL. The bench replaces __FILE__ with
-- the report's path and passes -v as_of=YYYY-MM-DD; run with search_path set to the schema of the tables.
\set ON_ERROR_STOP 1
BEGIN;

-- setup: the pipeline's
CREATE TABLE IF NOT EXISTS statistics (
  email text NOT NULL, jk text, badmail text, baja text,
  fecha_envio timestamp NOT NULL, fecha_open timestamp, opens integer, opens_virales integer,
  fecha_click timestamp, clicks integer, clicks_virales integer,
  links text, ips text, navegadores text, plataformas text,
  file_name text NOT NULL, line_number integer NOT NULL);
CREATE TABLE IF NOT EXISTS visit (
  email text NOT NULL, visited_at timestamp NOT NULL, file_name text NOT NULL, line_number integer NOT NULL);
CREATE INDEX IF NOT EXISTS visit_email ON visit (email);
CREATE TABLE IF NOT EXISTS visitor (
  email text PRIMARY KEY, first_visit timestamp NOT NULL, last_visit timestamp NOT NULL,
  total_visits integer NOT NULL, visits_current_year integer NOT NULL, visits_current_month integer NOT NULL);
CREATE TABLE IF NOT EXISTS errors (
  run_id uuid NOT NULL, file_name text NOT NULL, line_number integer, reasons text NOT NULL, raw_line text);
TRUNCATE errors;

-- dd/MM/yyyy HH:mm → timestamp, or null when it is not one (31/02 included); inlined by the planner.
CREATE FUNCTION pg_temp.dmy(s text) RETURNS timestamp LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN s ~ '^\d\d/\d\d/\d{4} \d\d:\d\d$' THEN
    CASE WHEN substr(s, 4, 2)::int BETWEEN 1 AND 12 AND substr(s, 12, 2)::int < 24 AND substr(s, 15, 2)::int < 60
          AND substr(s, 1, 2)::int BETWEEN 1 AND CASE substr(s, 4, 2)::int
                WHEN 2 THEN CASE WHEN substr(s, 7, 4)::int % 4 = 0
                                  AND (substr(s, 7, 4)::int % 100 <> 0 OR substr(s, 7, 4)::int % 400 = 0) THEN 29 ELSE 28 END
                WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30 ELSE 31 END
      THEN make_timestamp(substr(s, 7, 4)::int, substr(s, 4, 2)::int, substr(s, 1, 2)::int,
                          substr(s, 12, 2)::int, substr(s, 15, 2)::int, 0) END END
$$;

-- The file as text, each row with its line in the file (the header is line 1).
CREATE TEMP TABLE raw (
  line_number integer GENERATED ALWAYS AS IDENTITY (START 2),
  email text, jk text, badmail text, baja text, fecha_envio text, fecha_open text, opens text,
  opens_virales text, fecha_click text, clicks text, clicks_virales text, links text, ips text,
  navegadores text, plataformas text) ON COMMIT DROP;
\copy raw (email, jk, badmail, baja, fecha_envio, fecha_open, opens, opens_virales, fecha_click, clicks, clicks_virales, links, ips, navegadores, plataformas) FROM '__FILE__' WITH (FORMAT csv, HEADER)

-- The checks: '-' and '' are null; e-mail trimmed, lower-cased, required and well-formed; send date
-- required; dates dd/MM/yyyy HH:mm; counts integers ≥ 0.
CREATE TEMP TABLE checked ON COMMIT DROP AS
SELECT *, array_remove(ARRAY[
    CASE WHEN email IS NULL THEN 'email: required'
         -- Lengths apart: bounded repeats ({1,64}) make PostgreSQL's regex engine ~15× slower here.
         WHEN length(email) > 254 OR position('..' IN email) > 0 OR length(split_part(email, '@', 1)) > 64
           OR email !~ '^[a-z0-9!#$%&''*+/=?^_`{|}~.-]+@([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+([a-z][a-z]+|xn--[a-z0-9-]+)$'
           OR email ~ '^\.|\.@' THEN 'email: not a valid e-mail address' END,
    CASE WHEN fecha_envio_text IS NULL THEN 'Fecha envio: required'
         WHEN fecha_envio IS NULL THEN 'Fecha envio: not a date' END,
    CASE WHEN fecha_open_text IS NOT NULL AND fecha_open IS NULL THEN 'Fecha open: not a date' END,
    CASE WHEN fecha_click_text IS NOT NULL AND fecha_click IS NULL THEN 'Fecha click: not a date' END,
    CASE WHEN opens_text !~ '^\+?\d{1,9}$' THEN 'Opens: must be an integer ≥ 0' END,
    CASE WHEN opens_virales_text !~ '^\+?\d{1,9}$' THEN 'Opens virales: must be an integer ≥ 0' END,
    CASE WHEN clicks_text !~ '^\+?\d{1,9}$' THEN 'Clicks: must be an integer ≥ 0' END,
    CASE WHEN clicks_virales_text !~ '^\+?\d{1,9}$' THEN 'Clicks virales: must be an integer ≥ 0' END
  ], NULL) AS reasons
FROM (
  SELECT line_number, lower(trim(nullif(nullif(email, '-'), ''))) AS email,
         nullif(nullif(jk, '-'), '') AS jk, nullif(nullif(badmail, '-'), '') AS badmail,
         nullif(nullif(baja, '-'), '') AS baja,
         nullif(nullif(fecha_envio, '-'), '') AS fecha_envio_text,
         pg_temp.dmy(nullif(nullif(fecha_envio, '-'), '')) AS fecha_envio,
         nullif(nullif(fecha_open, '-'), '') AS fecha_open_text,
         pg_temp.dmy(nullif(nullif(fecha_open, '-'), '')) AS fecha_open,
         nullif(nullif(opens, '-'), '') AS opens_text,
         nullif(nullif(opens_virales, '-'), '') AS opens_virales_text,
         nullif(nullif(fecha_click, '-'), '') AS fecha_click_text,
         pg_temp.dmy(nullif(nullif(fecha_click, '-'), '')) AS fecha_click,
         nullif(nullif(clicks, '-'), '') AS clicks_text,
         nullif(nullif(clicks_virales, '-'), '') AS clicks_virales_text,
         nullif(nullif(links, '-'), '') AS links, nullif(nullif(ips, '-'), '') AS ips,
         nullif(nullif(navegadores, '-'), '') AS navegadores,
         nullif(nullif(plataformas, '-'), '') AS plataformas
    FROM raw) r;

-- The valid rows, typed: they replace statistics and are what afterLoad reads as `staged`.
CREATE TEMP TABLE staged ON COMMIT DROP AS
SELECT email, jk, badmail, baja, fecha_envio, fecha_open, opens_text::int AS opens,
       opens_virales_text::int AS opens_virales, fecha_click, clicks_text::int AS clicks,
       clicks_virales_text::int AS clicks_virales, links, ips, navegadores, plataformas,
       'report_bench.txt'::text AS file_name, line_number
  FROM checked WHERE cardinality(reasons) = 0;
TRUNCATE statistics;
INSERT INTO statistics SELECT * FROM staged;

-- afterLoad: the pipeline's
INSERT INTO visit (email, visited_at, file_name, line_number)
  SELECT email, fecha_envio, file_name, line_number FROM staged;
INSERT INTO visitor AS v (email, first_visit, last_visit, total_visits, visits_current_year, visits_current_month)
  SELECT email, min(fecha_envio), max(fecha_envio), count(*), 0, 0 FROM staged GROUP BY email
  ON CONFLICT (email) DO UPDATE SET
    first_visit = least(v.first_visit, excluded.first_visit),
    last_visit = greatest(v.last_visit, excluded.last_visit),
    total_visits = v.total_visits + excluded.total_visits;

-- afterRun: the pipeline's, with the as-of date given to psql, and the rejects from the checks above.
UPDATE visitor v SET visits_current_year = c.year_visits, visits_current_month = c.month_visits
  FROM (SELECT email,
               count(*) FILTER (WHERE date_trunc('year', visited_at) = date_trunc('year', :'as_of'::timestamp)) AS year_visits,
               count(*) FILTER (WHERE date_trunc('month', visited_at) = date_trunc('month', :'as_of'::timestamp)) AS month_visits
          FROM visit GROUP BY email) c
 WHERE c.email = v.email
   AND (v.visits_current_year, v.visits_current_month) IS DISTINCT FROM (c.year_visits, c.month_visits);
INSERT INTO errors (run_id, file_name, line_number, reasons, raw_line)
  SELECT gen_random_uuid(), 'report_bench.txt', c.line_number, array_to_string(c.reasons, '; '),
         concat_ws(',', r.email, r.jk, r.badmail, r.baja, r.fecha_envio, r.fecha_open, r.opens, r.opens_virales,
                   r.fecha_click, r.clicks, r.clicks_virales, r.links, r.ips, r.navegadores, r.plataformas)
    FROM checked c JOIN raw r USING (line_number)
   WHERE cardinality(c.reasons) > 0;
COMMIT;
