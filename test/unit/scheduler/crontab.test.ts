import { describe, expect, it } from 'vitest';
import { crontabOf } from '../../../src/cli/cron-command.js';
import { createCatalog } from '../../../src/scheduler/catalog.js';
import type { PipelineSpec } from '../../../src/core/spec.js';
import type { ScheduleRow } from '../../../src/store/schedules.js';

const spec = (name: string, file: string, groups: string[] = []) =>
  ({
    name,
    file,
    groups,
    run: {},
    source: { type: 'files', options: {} },
    load: { type: 'postgres', options: {} },
  }) as unknown as PipelineSpec;

const row = (s: Partial<ScheduleRow> & Pick<ScheduleRow, 'name' | 'cron' | 'kind'>): ScheduleRow => ({
  timezone: 'UTC',
  target: null,
  options: {},
  enabled: true,
  catchUp: 'skip',
  createdAt: '',
  updatedAt: '',
  lastFireAt: null,
  ...s,
});

describe('sluice cron export', () => {
  it('writes a crontab line per enabled schedule, its time zone as CRON_TZ, and says what it leaves out', () => {
    const catalog = createCatalog([
      spec('visits', '/srv/etl/visits.yaml'),
      spec('a', '/srv/etl/a b.yaml', ['pulso']),
    ]);
    const text = crontabOf(
      [
        row({
          name: 'visits-daily',
          cron: '30 6 * * *',
          timezone: 'Europe/Madrid',
          kind: 'pipeline',
          target: 'visits',
          options: { force: true },
        }),
        row({
          name: 'sync',
          cron: '0 */6 * * *',
          kind: 'group',
          target: 'pulso',
          options: { maxConcurrent: 3 },
        }),
        row({ name: 'mail', cron: '*/5 * * * *', kind: 'inboxPoll', target: 'office' }),
        row({ name: 'fast', cron: '*/2 * * * * *', kind: 'cleanup' }),
        row({ name: 'off', cron: '* * * * *', kind: 'cleanup', enabled: false }),
        row({ name: 'gone', cron: '* * * * *', kind: 'pipeline', target: 'nope' }),
      ],
      catalog,
      { sluice: 'sluice', env: ['SLUICE_HOME=/srv/etl/.sluice'] },
    );
    expect(text).toBe(
      [
        '# Sluice schedules, written by `sluice cron export` (the database is the source: export again after changes).',
        'PATH=/usr/local/bin:/usr/bin:/bin',
        'SLUICE_HOME=/srv/etl/.sluice',
        'CRON_TZ=Europe/Madrid',
        '# visits-daily',
        '30 6 * * * sluice run /srv/etl/visits.yaml --force',
        'CRON_TZ=UTC',
        '# sync',
        "0 */6 * * * sluice run --group pulso --max-concurrent 3 '/srv/etl/a b.yaml'",
        '# mail',
        '*/5 * * * * sluice inbox poll --account office',
        '# fast: "*/2 * * * * *" has seconds, which cron cannot express: left out',
        '# gone: left out: pipeline nope is not in the service file',
        '',
      ].join('\n'),
    );
  });
});
