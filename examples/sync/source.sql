-- A small warehouse in the shape of a collections dashboard: five tables in schema `pulso`,
-- with dates relative to today so that the lookback and sliding windows have something to do.
-- Load it into the source database: psql "$PULSO_SOURCE_URL" -f examples/sync/source.sql
DROP SCHEMA IF EXISTS pulso CASCADE;
CREATE SCHEMA pulso;

-- Main metrics per snapshot date, file, portfolio and service.
CREATE TABLE pulso.dashboard_data (
  fecha_foto date NOT NULL,
  archivo text NOT NULL,
  cartera text NOT NULL,
  servicio text NOT NULL,
  cuentas integer NOT NULL,
  deuda numeric(14, 2) NOT NULL,
  pagos numeric(14, 2) NOT NULL,
  PRIMARY KEY (fecha_foto, archivo, cartera, servicio)
);
INSERT INTO pulso.dashboard_data
SELECT current_date - d, 'carga_' || to_char(current_date - d, 'YYYYMMDD') || '.csv', c, s,
       100 + d * 3 + length(c) * 7, (1000 + d * 17.5)::numeric(14, 2), (d * 3.25)::numeric(14, 2)
  FROM generate_series(0, 29) AS d, unnest(ARRAY['TEMPRANA', 'CASTIGO', 'ALTAS']) AS c,
       unnest(ARRAY['MOVIL', 'HOGAR']) AS s;

-- Time series for the evolution charts.
CREATE TABLE pulso.evolution_data (
  fecha date NOT NULL,
  cartera text NOT NULL,
  contactabilidad numeric(6, 4) NOT NULL,
  efectividad numeric(6, 4) NOT NULL,
  PRIMARY KEY (fecha, cartera)
);
INSERT INTO pulso.evolution_data
SELECT current_date - d, c, (0.3 + d / 100.0)::numeric(6, 4), (0.1 + d / 300.0)::numeric(6, 4)
  FROM generate_series(0, 59) AS d, unnest(ARRAY['TEMPRANA', 'CASTIGO', 'ALTAS']) AS c;

-- Monthly assignment comparisons: small, rebuilt upstream, so read whole every time.
CREATE TABLE pulso.assignment_data (
  periodo text NOT NULL,
  cartera text NOT NULL,
  asignadas integer NOT NULL,
  PRIMARY KEY (periodo, cartera)
);
INSERT INTO pulso.assignment_data
SELECT to_char(date_trunc('month', current_date) - m * interval '1 month', 'YYYY-MM'), c, 5000 + m * 120
  FROM generate_series(0, 5) AS m, unnest(ARRAY['TEMPRANA', 'CASTIGO', 'ALTAS']) AS c;

-- Operations per hour and channel.
CREATE TABLE pulso.operation_data (
  fecha_hora timestamp NOT NULL,
  canal text NOT NULL,
  llamadas integer NOT NULL,
  PRIMARY KEY (fecha_hora, canal)
);
INSERT INTO pulso.operation_data
SELECT date_trunc('hour', localtimestamp) - h * interval '1 hour', ch, (h * 7) % 90
  FROM generate_series(0, 24 * 10 - 1) AS h, unnest(ARRAY['VOZ', 'SMS', 'WHATSAPP']) AS ch;

-- Agent performance per day.
CREATE TABLE pulso.productivity_data (
  fecha date NOT NULL,
  agente text NOT NULL,
  gestiones integer NOT NULL,
  promesas integer NOT NULL,
  PRIMARY KEY (fecha, agente)
);
INSERT INTO pulso.productivity_data
SELECT current_date - d, 'agente_' || lpad(a::text, 2, '0'), 40 + (a * d) % 30, (a + d) % 9
  FROM generate_series(0, 29) AS d, generate_series(1, 12) AS a;
