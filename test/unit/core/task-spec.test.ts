import { describe, expect, it } from 'vitest';
import { describeError } from '../../../src/core/errors.js';
import { parseTask } from '../../../src/core/task-spec.js';

const parse = (text: string) => parseTask(text, { file: '/srv/tasks/t.yaml', env: { DIR: '/srv/out' } });

function problem(text: string): string {
  try {
    parse(text);
  } catch (error) {
    return describeError(error);
  }
  throw new Error('expected the task to be refused');
}

describe('task files', () => {
  it('fill defaults and read relative paths from the file’s folder', () => {
    const command = parse('name: a\ntype: command\noptions:\n  program: ./run.sh\n  timeout: 5m\n');
    expect(command).toMatchObject({
      name: 'a',
      type: 'command',
      file: '/srv/tasks/t.yaml',
      options: { program: '/srv/tasks/run.sh', args: [], cwd: '/srv/tasks', timeout: 300_000, shell: false },
    });
    // A bare name is looked up on PATH when it runs; a shell line is left as written.
    expect(parse('name: a\ntype: command\noptions: { program: python3 }\n').options).toMatchObject({
      program: 'python3',
    });
    const maintenance = parse('name: m\ntype: maintenance\n');
    expect(maintenance.options).toMatchObject({
      keep: {
        logs: 30 * 86_400_000,
        rejects: 90 * 86_400_000,
        ledger: 180 * 86_400_000,
        runs: 180 * 86_400_000,
      },
      folders: [],
      batchSize: 5000,
    });
    expect(parse('name: b\ntype: backup\noptions:\n  dir: ${DIR}\n').options).toMatchObject({
      dir: '/srv/out',
      keep: 14 * 86_400_000,
      prefix: 'sluice',
    });
  });

  it('say where a mistake is and what was expected', () => {
    expect(problem('name: a\ntype: comand\n')).toMatch(/t\.yaml:2:7: type: .*command/);
    expect(problem('name: a\ntype: command\noptions:\n  args: [x]\n')).toMatch(
      /t\.yaml:4:3: options\.program: missing/,
    );
    expect(problem('name: a\ntype: command\noptions:\n  program: x\n  timeout: 30\n')).toMatch(
      /t\.yaml:5:12: options\.timeout: a duration with its unit/,
    );
    expect(problem('name: m\ntype: maintenance\noptions:\n  keep: { log: 3d }\n')).toMatch(
      /options\.keep\.log: unknown key; did you mean logs\?/,
    );
  });
});
