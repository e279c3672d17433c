import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parsePipeline } from '../../src/core/spec.js';
import { createRegistry } from '../../src/plugins/index.js';
import { runPipeline, type RunOptions, type RunSummary } from '../../src/runner/run-pipeline.js';
import type { Database } from '../../src/store/database.js';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const VISITS_PIPELINE = path.join(REPO, 'examples/visits/pipeline.yaml');

export async function tempDir(prefix = 'sluice-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Reads a pipeline file with the given environment and runs it once. */
export async function runPipelineFile(
  db: Database,
  file: string,
  options: { env: Record<string, string>; home: string } & Partial<
    Omit<RunOptions, 'db' | 'spec' | 'registry' | 'home'>
  >,
): Promise<RunSummary> {
  const registry = createRegistry();
  const spec = parsePipeline(await readFile(file, 'utf8'), { file, env: options.env, registry });
  const { env: _env, ...rest } = options;
  return runPipeline({ db, spec, registry, ...rest });
}
