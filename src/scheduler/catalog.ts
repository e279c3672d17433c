import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { SluiceError } from '../core/errors.js';
import type { Registry } from '../core/registry.js';
import { parsePipeline, type PipelineSpec } from '../core/spec.js';
import { readConfigText } from '../core/config-text.js';

/** The pipelines a service knows: read from files and folders at its start, by name and group. */
export interface PipelineCatalog {
  readonly specs: ReadonlyMap<string, PipelineSpec>;
  get(name: string): PipelineSpec | undefined;
  /** The pipelines of a group, by name. */
  group(name: string): PipelineSpec[];
  groups(): string[];
}

export function createCatalog(specs: readonly PipelineSpec[]): PipelineCatalog {
  const byName = new Map<string, PipelineSpec>();
  for (const spec of specs) {
    const other = byName.get(spec.name);
    if (other)
      throw new SluiceError(
        'CONFIG_INVALID',
        `two pipelines are named ${spec.name}: ${other.file} and ${spec.file}`,
        {
          where: spec.file,
        },
      );
    byName.set(spec.name, spec);
  }
  const sorted = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  return {
    specs: byName,
    get: (name) => byName.get(name),
    group: (name) => sorted.filter((s) => s.groups.includes(name)),
    groups: () => [...new Set(sorted.flatMap((s) => s.groups))].sort(),
  };
}

/** Reads pipeline files, and the YAML files of folders (not recursively), into a catalog. */
export async function loadCatalog(
  paths: readonly string[],
  registry: Registry,
  env: Record<string, string | undefined> = process.env,
): Promise<PipelineCatalog> {
  const files: string[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => undefined);
    if (!info) throw new SluiceError('CONFIG_NOT_FOUND', 'no such pipeline file or folder', { where: p });
    if (info.isDirectory()) {
      const names = (await readdir(p)).filter((n) => /\.ya?ml$/i.test(n)).sort();
      files.push(...names.map((n) => path.join(p, n)));
    } else files.push(p);
  }
  const specs = await Promise.all(
    files.map(async (file) => parsePipeline(await readConfigText(file), { file, env, registry })),
  );
  return createCatalog(specs);
}
