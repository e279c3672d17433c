import type { Command } from 'commander';
import { z } from 'zod';
import type { Plugin } from '../core/plugin.js';
import { createRegistry } from '../plugins/index.js';

interface OptionDoc {
  name: string;
  type: string;
  required: boolean;
  default?: unknown;
  description?: string;
}

/** The options of a plugin, read from its zod schema (the same spec that validates pipelines). */
export function describeOptions(plugin: Plugin): OptionDoc[] {
  const schema = z.toJSONSchema(plugin.options, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<
      string,
      {
        type?: string;
        enum?: unknown[];
        default?: unknown;
        description?: string;
        anyOf?: { type?: string }[];
      }
    >;
    required?: string[];
  };
  return Object.entries(schema.properties ?? {}).map(([name, p]) => ({
    name,
    type: p.enum
      ? p.enum.map((v) => JSON.stringify(v)).join(' | ')
      : (p.type ?? p.anyOf?.map((a) => a.type ?? 'object').join(' | ') ?? 'any'),
    required: schema.required?.includes(name) === true && p.default === undefined,
    ...(p.default !== undefined ? { default: p.default } : {}),
    ...(p.description ? { description: p.description } : {}),
  }));
}

export function registerPlugins(program: Command) {
  program
    .command('plugins')
    .description('List every plugin with its options')
    .option('--json', 'as JSON')
    .action((flags: { json?: boolean }) => {
      const registry = createRegistry();
      const docs = registry.plugins.map((p) => ({
        kind: p.kind,
        name: p.name,
        summary: p.summary,
        options: describeOptions(p),
      }));
      if (flags.json) {
        process.stdout.write(JSON.stringify(docs, null, 2) + '\n');
        return;
      }
      for (const kind of ['source', 'parser', 'check', 'transform', 'loader'] as const) {
        process.stdout.write(`\n${kind.toUpperCase()}S\n`);
        for (const doc of docs.filter((d) => d.kind === kind)) {
          process.stdout.write(`  ${doc.name} — ${doc.summary}\n`);
          for (const o of doc.options) {
            const dflt =
              o.default !== undefined
                ? ` (default ${JSON.stringify(o.default)})`
                : o.required
                  ? ' (required)'
                  : '';
            process.stdout.write(
              `      ${o.name}: ${o.type}${dflt}${o.description ? ` — ${o.description}` : ''}\n`,
            );
          }
        }
      }
    });
}
