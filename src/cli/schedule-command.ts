import { Option, type Command } from 'commander';
import { SluiceError } from '../core/errors.js';
import { checkJob, JOB_KINDS } from '../scheduler/job-kinds.js';
import { nextFire, scheduleCronProblem, scheduleSchema } from '../scheduler/schedule-spec.js';
import { readSchedulesFile } from '../scheduler/service-config.js';
import { isTimeZone } from '../core/report-spec.js';
import type { Database } from '../store/database.js';
import {
  deleteSchedule,
  getSchedule,
  listSchedules,
  saveSchedule,
  setScheduleEnabled,
  updateSchedule,
  type NewSchedule,
  type ScheduleRow,
} from '../store/schedules.js';
import { readConfigText } from '../core/config-text.js';
import { EXIT, withStore } from './shared.js';

interface ScheduleFlags {
  cron?: string;
  timezone?: string;
  kind?: string;
  target?: string;
  option?: string[];
  catchUp?: 'skip' | 'once';
  disabled?: boolean;
  json?: boolean;
}

/** `key=value`: the value read as JSON when it is JSON (true, 3, "x", [..]), else as text. */
function parseOptions(
  pairs: string[] | undefined,
  into: Record<string, unknown> = {},
): Record<string, unknown> {
  const out = { ...into };
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new SluiceError('CONFIG_INVALID', `--option ${pair}: expected key=value, such as force=true`);
    const text = pair.slice(eq + 1);
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // text
    }
    out[pair.slice(0, eq)] = value;
  }
  return out;
}

/** Refuses a schedule whose cron, time zone, kind or options are wrong, naming the option. */
function check(s: NewSchedule): void {
  const problems: string[] = [];
  const cron = scheduleCronProblem(s.cron);
  if (cron) problems.push(`--cron: ${cron}`);
  if (!isTimeZone(s.timezone))
    problems.push(`--timezone: not an IANA time zone such as Europe/Madrid (found "${s.timezone}")`);
  for (const p of checkJob(undefined, { ...s, target: s.target ?? undefined }).problems)
    problems.push(
      `${p.field === 'kind' ? '--kind' : p.field === 'target' ? '--target' : `--option ${p.field.replace(/^options\./, '')}`}: ${p.message}`,
    );
  if (problems.length > 0)
    throw new SluiceError('CONFIG_INVALID', `schedule ${s.name}: ${problems.join('; ')}`);
}

function describe(s: ScheduleRow): string {
  const next = s.enabled ? (nextFire(s, new Date())?.toISOString() ?? 'never') : 'disabled';
  const what = `${s.kind}${s.target ? ` ${s.target}` : ''}${Object.keys(s.options).length ? ` ${JSON.stringify(s.options)}` : ''}`;
  return `${s.name.padEnd(24)} ${s.cron.padEnd(16)} ${s.timezone.padEnd(16)} ${what.padEnd(36)} catchUp ${s.catchUp.padEnd(4)}  next ${next}  last ${s.lastFireAt ?? '-'}`;
}

const notFound = (name: string) =>
  new SluiceError('CONFIG_NOT_FOUND', `there is no schedule "${name}"`, {
    hint: '`sluice schedule list` shows them.',
  });

export function registerSchedule(program: Command, exit: (code: number) => void) {
  const schedule = program
    .command('schedule')
    .description(
      'Schedules: what runs when (cron with a time zone), in the database; `sluice serve` fires them',
    );
  // Only `add` and `load` may create the embedded database; the rest need schedules that are already there,
  // so in a folder where nothing ran they say so instead of making an empty database.
  const run = (work: (db: Database) => Promise<number | void>, existing = true) =>
    withStore(async (db) => exit((await work(db)) ?? EXIT.ok), { existing });

  schedule
    .command('list')
    .description('Every schedule with its next and last tick')
    .option('--json', 'print JSON')
    .action((flags: { json?: boolean }) =>
      run(async (db) => {
        const rows = await listSchedules(db);
        if (flags.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        else if (rows.length === 0)
          process.stdout.write('no schedules: add one with `sluice schedule add`\n');
        else for (const r of rows) process.stdout.write(describe(r) + '\n');
      }),
    );

  const definition = (cmd: Command) =>
    cmd
      .option(
        '--cron <expression>',
        'minute hour day-of-month month day-of-week ("0 6 * * *"), seconds first when 6 fields',
      )
      .option('--timezone <zone>', 'IANA time zone the cron is read in (default UTC)')
      .option('--kind <kind>', `what it runs: ${JOB_KINDS.map((k) => k.name).join(', ')}`)
      .option('--target <name>', 'the pipeline, group, report or account it runs')
      .option('--option <key=value...>', 'an option of the kind, such as force=true or maxConcurrent=3')
      .addOption(
        new Option('--catch-up <policy>', 'after downtime: skip the missed ticks, or fire once').choices([
          'skip',
          'once',
        ]),
      );

  definition(schedule.command('add').description('Add a schedule').argument('<name>'))
    .option('--disabled', 'add it disabled')
    .action((name: string, flags: ScheduleFlags) =>
      run(async (db) => {
        if (!flags.cron || !flags.kind)
          throw new SluiceError('CONFIG_INVALID', 'a schedule needs --cron and --kind', {
            hint: 'For example: sluice schedule add visits-daily --cron "0 6 * * *" --kind pipeline --target visits',
          });
        const parsed = scheduleSchema.shape.name.safeParse(name);
        if (!parsed.success)
          throw new SluiceError(
            'CONFIG_INVALID',
            `schedule name "${name}": ${parsed.error.issues[0]!.message}`,
          );
        const s: NewSchedule = {
          name,
          cron: flags.cron,
          timezone: flags.timezone ?? 'UTC',
          kind: flags.kind,
          target: flags.target ?? null,
          options: parseOptions(flags.option),
          enabled: !flags.disabled,
          catchUp: flags.catchUp ?? 'skip',
        };
        check(s);
        if (!(await saveSchedule(db, s)))
          throw new SluiceError('CONFIG_INVALID', `a schedule named "${name}" exists`, {
            hint: 'Change it with `sluice schedule edit`.',
          });
        process.stdout.write(`added ${describe((await getSchedule(db, name))!)}\n`);
      }, false),
    );

  definition(
    schedule
      .command('edit')
      .description('Change a schedule: the options given replace its values')
      .argument('<name>'),
  )
    .option('--no-target', 'remove its target')
    .action((name: string, flags: Omit<ScheduleFlags, 'target'> & { target?: string | false }) =>
      run(async (db) => {
        const row = await getSchedule(db, name);
        if (!row) throw notFound(name);
        const s: NewSchedule = {
          name,
          cron: flags.cron ?? row.cron,
          timezone: flags.timezone ?? row.timezone,
          kind: flags.kind ?? row.kind,
          target: flags.target === false ? null : (flags.target ?? row.target),
          options: parseOptions(flags.option, row.options),
          enabled: row.enabled,
          catchUp: flags.catchUp ?? row.catchUp,
        };
        check(s);
        await updateSchedule(db, s);
        process.stdout.write(`changed ${describe((await getSchedule(db, name))!)}\n`);
      }),
    );

  for (const [action, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const)
    schedule
      .command(action)
      .description(`${action === 'enable' ? 'Enable' : 'Disable'} a schedule`)
      .argument('<name>')
      .action((name: string) =>
        run(async (db) => {
          if (!(await setScheduleEnabled(db, name, enabled))) throw notFound(name);
          process.stdout.write(`schedule ${name} ${enabled ? 'enabled' : 'disabled'}\n`);
        }),
      );

  schedule
    .command('remove')
    .description('Delete a schedule and its ticks')
    .argument('<name>')
    .action((name: string) =>
      run(async (db) => {
        if (!(await deleteSchedule(db, name))) throw notFound(name);
        process.stdout.write(`schedule ${name} removed\n`);
      }),
    );

  schedule
    .command('load')
    .description('Save the schedules of a YAML file (a `schedules:` list), replacing those of the same names')
    .argument('<file>')
    .action((file: string) =>
      run(async (db) => {
        await readConfigText(file); // a clear error for a missing file
        const specs = await readSchedulesFile(file);
        for (const s of specs) {
          const row = { ...s, target: s.target ?? null };
          check(row);
          await saveSchedule(db, row, true);
        }
        process.stdout.write(`${specs.length} schedule(s) saved from ${file}\n`);
      }, false),
    );

  schedule
    .command('kinds')
    .description('What a schedule can run, with each kind’s target and options')
    .action(() => {
      for (const k of JOB_KINDS)
        process.stdout.write(`${k.name.padEnd(14)} target: ${k.target.padEnd(9)} ${k.summary}\n`);
      exit(EXIT.ok);
    });
}
