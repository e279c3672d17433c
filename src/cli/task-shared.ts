import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { SluiceError } from '../core/errors.js';
import type { TaskSpec } from '../core/task-spec.js';
import type { TaskSummary } from '../runner/tasks/run-task.js';
import { formatDuration } from './format.js';
import { readConfigText } from '../core/config-text.js';

/** Where task files are looked for by name: `SLUICE_TASKS`, or `tasks/` in the working folder. */
export function tasksDir(env: Record<string, string | undefined> = process.env): string {
  return path.resolve(env.SLUICE_TASKS || 'tasks');
}

/** Reads a task file. */
export async function readTask(file: string): Promise<TaskSpec> {
  const { parseTask } = await import('../core/task-spec.js');
  return parseTask(await readConfigText(file), { file, env: process.env });
}

/**
 * The task a user named: a file (a path, or a name ending in .yaml/.yml), or a task name looked up in
 * `dir` as `NAME.yaml`, `NAME.yml`, or any YAML file there whose `name:` it is.
 */
export async function findTask(given: string, dir: string): Promise<TaskSpec> {
  if (given.includes('/') || /\.ya?ml$/i.test(given)) return readTask(given);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /\.ya?ml$/i.test(n)).sort();
  for (const ext of ['.yaml', '.yml'])
    if (names.includes(given + ext)) return readTask(path.join(dir, given + ext));
  const known: string[] = [];
  for (const n of names) {
    const task = await readTask(path.join(dir, n)).catch(() => undefined);
    if (task?.name === given) return task;
    if (task) known.push(task.name);
  }
  throw new SluiceError('CONFIG_NOT_FOUND', `no task named "${given}" in ${dir}`, {
    hint:
      known.length > 0
        ? `Tasks there: ${known.join(', ')}. Give a task file's path, or its name with --dir FOLDER.`
        : 'Give a task file’s path, or put the task in tasks/NAME.yaml (or the folder of --dir or SLUICE_TASKS).',
  });
}

/** Lines of a command's output a summary shows (the step log keeps more). */
const TAIL_LINES = 10;

/** A task's run for people. */
export function formatTaskSummary(s: TaskSummary): string {
  const lines = [
    `Task ${s.pipeline} (${s.type}) ${s.status} in ${formatDuration(s.durationMs)}, run ${s.runId}${s.replayed ? ' (already run for this request)' : ''}`,
  ];
  for (const o of s.outcomes ?? []) lines.push(`  ${o}`);
  for (const w of s.warnings) lines.push(`  warning: ${w.split('\n')[0]}`);
  // A command's output, as far as the step log keeps it (its last lines here).
  const output = s.result as { stdoutTail?: unknown; stderrTail?: unknown } | undefined;
  for (const stream of ['stdout', 'stderr'] as const) {
    const tail = output?.[`${stream}Tail`];
    if (typeof tail !== 'string' || tail === '') continue;
    const last = tail.split('\n').slice(-TAIL_LINES);
    lines.push(`  ${stream} (last lines):`, ...last.map((l) => `    ${l}`));
  }
  lines.push(`  step log: sluice runs ${s.runId.slice(0, 8)} --log`);
  if (s.error) lines.push('', `The task failed: ${s.error.message}`);
  return lines.join('\n') + '\n';
}
