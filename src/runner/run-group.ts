import { describeError, isSluiceError } from '../core/errors.js';
import type { PipelineSpec } from '../core/spec.js';
import { runPipeline, type RunOptions, type RunSummary } from './run-pipeline.js';

/** What became of one pipeline of a group: its summary, or why it could not run at all. */
export interface GroupMemberResult {
  pipeline: string;
  status: RunSummary['status'] | 'refused' | 'error';
  summary?: RunSummary;
  error?: { code: string; message: string };
}

/**
 * Runs pipelines side by side, at most `maxConcurrent` at a time. One that fails or cannot start does not
 * stop the others; each result says what happened to its pipeline.
 */
export async function runGroup(
  specs: readonly PipelineSpec[],
  options: Omit<RunOptions, 'spec'> & {
    maxConcurrent: number;
    onDone?: (r: GroupMemberResult) => void | Promise<void>;
    /** The request id of each member's run (the service: one per pipeline of a queued job). */
    requestIdOf?: (pipeline: string) => string;
    /** Live progress of each member's run. */
    onProgressOf?: (pipeline: string) => RunOptions['onProgress'];
  },
): Promise<GroupMemberResult[]> {
  const results: GroupMemberResult[] = new Array(specs.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < specs.length; i = next++) {
      const spec = specs[i]!;
      let result: GroupMemberResult;
      try {
        const { requestIdOf, onProgressOf, ...shared } = options;
        const onProgress = onProgressOf?.(spec.name);
        const summary = await runPipeline({
          ...shared,
          spec,
          ...(requestIdOf ? { requestId: requestIdOf(spec.name) } : {}),
          ...(onProgress ? { onProgress } : {}),
        });
        result = {
          pipeline: spec.name,
          status: summary.status,
          summary,
          ...(summary.error ? { error: summary.error } : {}),
        };
      } catch (error) {
        const code = isSluiceError(error) ? error.code : 'INTERNAL';
        result = {
          pipeline: spec.name,
          status: code === 'PIPELINE_RUNNING' ? 'refused' : 'error',
          error: { code, message: describeError(error) },
        };
      }
      results[i] = result;
      await options.onDone?.(result);
    }
  };
  const lanes = Math.max(1, Math.min(options.maxConcurrent, specs.length));
  await Promise.all(Array.from({ length: lanes }, worker));
  return results;
}
