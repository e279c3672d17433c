import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, pathWithNode } from './bin.js';
import { REPO } from './pipeline-harness.js';
import { eventually } from './service-fixtures.js';

/** A `sluice serve` or `sluice worker` child process (the real bin), with its output. */
export interface SluiceProcess {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** Resolves with the exit code (or the signal that killed it). */
  exited: Promise<number | NodeJS.Signals>;
  /** Waits until the output has a line matching `pattern`. */
  waitFor(pattern: RegExp, limitMs?: number): Promise<void>;
}

const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

export function startSluice(args: string[], env: Record<string, string>, cwd = REPO): SluiceProcess {
  const child = spawn(BIN, args, {
    cwd,
    env: { ...process.env, NO_COLOR: '1', PATH: pathWithNode(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.on('exit', (code, signal) => {
      started.delete(child);
      resolve(code ?? signal!);
    }),
  );
  return {
    child,
    pid: child.pid!,
    output: () => output,
    exited,
    waitFor: (pattern, limitMs = 60_000) =>
      eventually(
        () => `${pattern} in the output of sluice ${args[0]} (so far:\n${output.slice(-3000)})`,
        async () =>
          pattern.test(output)
            ? true
            : child.exitCode !== null
              ? Promise.reject(new Error(`sluice ${args[0]} exited:\n${output}`))
              : undefined,
        limitMs,
      ).then(() => undefined),
  };
}

/** Stops a process (SIGTERM, then SIGKILL after `limitMs`) and waits for it. */
export async function stopSluice(p: SluiceProcess, limitMs = 20_000): Promise<number | NodeJS.Signals> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.exited;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), limitMs);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}
