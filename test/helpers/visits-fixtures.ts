/** Report files in the visits layout (seed 000) for tests and the benchmark. */
export const VISITS_COLUMNS = [
  'email',
  'jk',
  'Badmail',
  'Baja',
  'Fecha envio',
  'Fecha open',
  'Opens',
  'Opens virales',
  'Fecha click',
  'Clicks',
  'Clicks virales',
  'Links',
  'IPs',
  'Navegadores',
  'Plataformas',
];

export interface VisitRow {
  email: string;
  sent: string; // dd/MM/yyyy HH:mm
  opened?: string;
  clicked?: string;
  opens?: string;
  clicks?: string;
  links?: string;
}

export function visitLine(r: VisitRow, index = 0): string {
  return [
    r.email,
    `C${index}`,
    '-',
    '-',
    r.sent,
    r.opened ?? '-',
    r.opens ?? '1',
    '0',
    r.clicked ?? '-',
    r.clicks ?? '0',
    '0',
    r.links ?? 'https://example.com/x',
    `10.0.0.${index % 255}`,
    'Firefox',
    'Linux',
  ].join(',');
}

export function visitsFile(
  rows: (VisitRow | string)[],
  options: { secondHeader?: string; crlf?: boolean; bom?: boolean } = {},
): string {
  const nl = options.crlf ? '\r\n' : '\n';
  const header = VISITS_COLUMNS.map((c, i) => (i === 1 ? (options.secondHeader ?? 'jk') : c)).join(',');
  const body = rows.map((r, i) => (typeof r === 'string' ? r : visitLine(r, i)));
  return (options.bom ? '\uFEFF' : '') + [header, ...body].join(nl) + nl;
}
