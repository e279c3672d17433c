import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/plugin.js';
import type { SqlClient } from '../core/sql.js';

export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  loggedAt: string;
  runId: string | null;
  pipeline: string | null;
  level: Level;
  step: number;
  stepMs: number;
  totalMs: number;
  message: string;
  data?: Record<string, unknown>;
}

/**
 * The step log of seed 001: each entry numbers its step and carries the time since the previous step and
 * since the start. Entries go to `sluice.logs` in the background; when the database cannot take them they
 * go, as JSON lines, to a file in `fallbackDir`. Writing a log never fails a run.
 */
export class StepLog implements Logger {
  private step = 0;
  private readonly started = performance.now();
  private last = this.started;
  private queue: LogEntry[] = [];
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: SqlClient | undefined,
    private readonly context: { runId: string | null; pipeline: string | null; fallbackDir: string },
    private readonly echo?: (entry: LogEntry) => void,
    /** Debug entries are stored only when this is set. */
    private readonly keepDebug = false,
  ) {}

  debug(message: string, data?: Record<string, unknown>) {
    this.write('debug', message, data);
  }
  info(message: string, data?: Record<string, unknown>) {
    this.write('info', message, data);
  }
  warn(message: string, data?: Record<string, unknown>) {
    this.write('warn', message, data);
  }
  error(message: string, data?: Record<string, unknown>) {
    this.write('error', message, data);
  }

  /** Waits until every entry so far is stored (in the database or the fallback file). */
  async flush(): Promise<void> {
    this.drain();
    await this.writing;
  }

  private write(level: Level, message: string, data?: Record<string, unknown>) {
    const now = performance.now();
    const entry: LogEntry = {
      loggedAt: new Date().toISOString(),
      runId: this.context.runId,
      pipeline: this.context.pipeline,
      level,
      step: ++this.step,
      stepMs: Math.round(now - this.last),
      totalMs: Math.round(now - this.started),
      message,
      ...(data ? { data } : {}),
    };
    this.last = now;
    this.echo?.(entry);
    if (level === 'debug' && !this.keepDebug) return;
    this.queue.push(entry);
    if (this.queue.length >= 50) this.drain();
  }

  private drain() {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.writing = this.writing.then(() => this.store(batch));
  }

  private async store(batch: LogEntry[]) {
    try {
      if (!this.db) throw new Error('no database');
      const params: unknown[] = [];
      const values = batch.map((e) => {
        const base = params.length;
        params.push(
          e.loggedAt,
          e.runId,
          e.pipeline,
          e.level,
          e.step,
          e.stepMs,
          e.totalMs,
          e.message,
          e.data ? JSON.stringify(e.data) : null,
        );
        return `(${Array.from({ length: 9 }, (_, i) => `$${base + i + 1}`).join(', ')})`;
      });
      await this.db.query(
        `INSERT INTO sluice.logs (logged_at, run_id, pipeline, level, step, step_ms, total_ms, message, data) VALUES ${values.join(', ')}`,
        params,
      );
    } catch (error) {
      await this.fallback(batch, error);
    }
  }

  private async fallback(batch: LogEntry[], cause: unknown) {
    try {
      await mkdir(this.context.fallbackDir, { recursive: true, mode: 0o770 });
      const file = path.join(this.context.fallbackDir, `sluice-${new Date().toISOString().slice(0, 10)}.log`);
      const lines = batch
        .map((e) => JSON.stringify({ ...e, fallbackBecause: errorMessage(cause) }))
        .join('\n');
      await appendFile(file, lines + '\n', { mode: 0o660 });
    } catch {
      // Nowhere left to write: the entries were echoed, and a log must not fail the run.
    }
  }
}
