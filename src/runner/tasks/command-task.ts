import { spawn } from 'node:child_process';
import { formatDuration } from '../../core/duration.js';
import { SluiceError } from '../../core/errors.js';
import type { CommandOptions } from '../../core/task-spec.js';
import type { TaskAction } from './run-task.js';

/** Bytes of each output stream kept for the step log: its tail, where the reason for a failure usually is. */
export const OUTPUT_TAIL_BYTES = 4096;

/** The last bytes written to a stream, in bounded memory however much it writes. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  total = 0;

  add(chunk: Buffer) {
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.total += chunk.length;
    while (this.size - this.chunks[0]!.length >= OUTPUT_TAIL_BYTES) this.size -= this.chunks.shift()!.length;
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    const cut = all.length > OUTPUT_TAIL_BYTES;
    let kept = all.subarray(all.length - Math.min(all.length, OUTPUT_TAIL_BYTES)).toString('utf8');
    // Start at a whole line when the tail was cut.
    if (cut) kept = kept.slice(kept.indexOf('\n') + 1);
    return kept.replace(/\s+$/, '');
  }
}

export interface CommandResult {
  exitCode: number | null;
  /** The signal that ended the command, when one did. */
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  durationMs: number;
  stdoutTail: string;
  stderrTail: string;
  stdoutBytes: number;
  stderrBytes: number;
}

/** Sends a signal to every process of the group (the command and what it started); false once it is gone. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a command in a process group of its own, keeping the tail of its output. Past its time limit, or on
 * `signal`, the whole group gets SIGTERM, then SIGKILL after `killAfter`; when the command itself exits,
 * what it left running in its group is stopped the same way, so no stray process outlives the task.
 */
export function runCommand(options: CommandOptions, signal: AbortSignal): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // With shell: true the command line is the script of `sh -c` and the arguments its $1, $2…: they stay
    // data, never pasted into the command line.
    const [file, args] = options.shell
      ? ['/bin/sh', ['-c', options.program, 'sh', ...options.args]]
      : [options.program, options.args];
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      detached: true, // its own process group, which the time limit stops as a whole
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout = new Tail();
    const stderr = new Tail();
    child.stdout.on('data', (d: Buffer) => stdout.add(d));
    child.stderr.on('data', (d: Buffer) => stderr.add(d));
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const stopGroup = () => {
      if (child.pid === undefined || killTimer) return;
      signalGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), options.killAfter);
    };
    const limit = setTimeout(() => {
      timedOut = true;
      stopGroup();
    }, options.timeout);
    const onAbort = () => stopGroup();
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    child.on('exit', (code, sig) => {
      exit = { code, signal: sig };
      // Processes it left behind would hold its output open (and outlive the task): stop them too.
      if (child.pid !== undefined && signalGroup(child.pid, 0)) stopGroup();
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(limit);
      clearTimeout(killTimer);
      signal.removeEventListener('abort', onAbort);
      if (exit) return;
      reject(
        new SluiceError('TASK_FAILED', `cannot start ${options.program}: ${error.code ?? error.message}`, {
          cause: error,
          hint:
            error.code === 'ENOENT'
              ? 'Check the program’s path (a relative path is read from the task file’s folder) and cwd.'
              : undefined,
        }),
      );
    });
    child.on('close', (code, sig) => {
      clearTimeout(limit);
      clearTimeout(killTimer);
      signal.removeEventListener('abort', onAbort);
      const ended = exit ?? { code, signal: sig };
      resolve({
        exitCode: ended.code,
        signal: ended.signal,
        timedOut,
        durationMs: Math.round(performance.now() - started),
        stdoutTail: stdout.text(),
        stderrTail: stderr.text(),
        stdoutBytes: stdout.total,
        stderrBytes: stderr.total,
      });
    });
  });
}

/** The `command` task: runs the command; a non-zero exit, a signal or the time limit fails the task. */
export function commandAction(options: CommandOptions): TaskAction {
  return async ({ log, signal, setResult }) => {
    const shown = [options.program, ...options.args].join(' ');
    log.info(`running ${shown}${options.shell ? ' (through /bin/sh)' : ''} in ${options.cwd}`, {
      timeout: formatDuration(options.timeout),
    });
    const result = await runCommand(options, signal);
    setResult(result);
    const ended =
      result.exitCode !== null ? `exit code ${result.exitCode}` : `ended by ${result.signal ?? 'a signal'}`;
    log.info(`${options.program}: ${ended} after ${formatDuration(result.durationMs)}`, {
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
      durationMs: result.durationMs,
      stdoutBytes: result.stdoutBytes,
      stderrBytes: result.stderrBytes,
    });
    if (result.stdoutTail) log.info(`stdout (tail):\n${result.stdoutTail}`, { stream: 'stdout' });
    if (result.stderrTail) log.info(`stderr (tail):\n${result.stderrTail}`, { stream: 'stderr' });
    if (signal.aborted) throw signal.reason;
    if (result.timedOut)
      throw new SluiceError(
        'TASK_FAILED',
        `${options.program} took longer than its time limit (${formatDuration(options.timeout)}): it was stopped with every process it started`,
      );
    if (result.exitCode !== 0) {
      const last = result.stderrTail.split('\n').pop();
      throw new SluiceError('TASK_FAILED', `${options.program} failed: ${ended}${last ? ` (${last})` : ''}`);
    }
    return { outcomes: [`${options.program}: ${ended}`], result };
  };
}
