import type { Command } from 'commander';
import { z } from 'zod';
import { DURATION_PATTERN } from '../core/duration.js';
import type { Plugin } from '../core/plugin.js';
import { createRegistry } from '../plugins/index.js';

/** One option of a plugin, with the options nested in it (objects, arrays and maps of objects, unions). */
export interface OptionDoc {
  name: string;
  type: string;
  required: boolean;
  default?: unknown;
  description?: string;
  /** The fields of an object option (or of each item of an array, each value of a map). */
  options?: OptionDoc[];
  /** The forms of an option that is one of several objects, each named by its distinguishing field. */
  variants?: { name: string; options: OptionDoc[] }[];
}

/** A JSON Schema node, as zod writes them. */
interface Schema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema | boolean;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  $ref?: string;
  pattern?: string;
}

/** The options of a plugin, read from its zod schema (the same spec that validates pipelines). */
export function describeOptions(plugin: Plugin): OptionDoc[] {
  const root = z.toJSONSchema(plugin.options, { io: 'input', unrepresentable: 'any' }) as Schema & {
    $defs?: Record<string, Schema>;
  };
  const resolve = (s: Schema | undefined, depth = 0): Schema => {
    if (!s) return {};
    if (s.$ref && depth < 20) {
      const key = s.$ref.replace(/^#\/\$defs\//, '');
      const { $ref: _, ...rest } = s;
      return resolve({ ...root.$defs?.[key], ...rest }, depth + 1);
    }
    return s;
  };
  // Schemas can refer to themselves: stop at a depth no plugin's options reach.
  const MAX_DEPTH = 6;

  const variantsOf = (s: Schema) => (s.oneOf ?? s.anyOf ?? []).map((v) => resolve(v));
  const isObject = (s: Schema) => s.type === 'object' && s.properties !== undefined;
  const mapValues = (s: Schema) =>
    s.type === 'object' && !s.properties && typeof s.additionalProperties === 'object'
      ? resolve(s.additionalProperties)
      : undefined;

  function typeName(raw: Schema): string {
    const s = resolve(raw);
    if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
    if (s.const !== undefined) return JSON.stringify(s.const);
    const variants = variantsOf(s);
    if (variants.length > 0) return [...new Set(variants.map(typeName))].join(' | ');
    if (Array.isArray(s.type)) return s.type.join(' | ');
    // Text with its unit (30s, 15m): a type of its own for the reader.
    if (s.type === 'string' && s.pattern === DURATION_PATTERN) return 'duration';
    if (s.type === 'array') {
      const item = typeName(s.items ?? {});
      return item.includes(' ') ? `(${item})[]` : `${item}[]`;
    }
    const values = mapValues(s);
    if (values) return `map of ${typeName(values)}`;
    return s.type ?? 'any';
  }

  /** The field whose constant value tells the object variants of a union apart (`type`, usually). */
  function discriminator(variants: Schema[]): string | undefined {
    const first = variants[0]?.properties ?? {};
    return Object.keys(first).find((key) =>
      variants.every((v) => resolve(v.properties?.[key]).const !== undefined),
    );
  }

  function nested(raw: Schema, depth: number): Pick<OptionDoc, 'options' | 'variants'> {
    const s = resolve(raw);
    if (depth >= MAX_DEPTH) return {};
    if (isObject(s)) return { options: fields(s, depth + 1) };
    if (s.type === 'array' && s.items) return nested(s.items, depth);
    const values = mapValues(s);
    if (values) return nested(values, depth);
    const objects = variantsOf(s).filter(isObject);
    if (objects.length === 1) return { options: fields(objects[0]!, depth + 1) };
    if (objects.length > 1) {
      const key = discriminator(objects);
      return {
        variants: objects.map((v, i) => ({
          name: key ? `${key}: ${JSON.stringify(resolve(v.properties?.[key]).const)}` : `form ${i + 1}`,
          options: fields(v, depth + 1).filter((o) => o.name !== key),
        })),
      };
    }
    // A union of an object and arrays or maps of objects (`string | string[]` has nothing nested).
    for (const v of variantsOf(s)) {
      const inner = nested(v, depth);
      if (inner.options || inner.variants) return inner;
    }
    return {};
  }

  function fields(s: Schema, depth: number): OptionDoc[] {
    return Object.entries(s.properties ?? {}).map(([name, raw]) => {
      const p = resolve(raw);
      return {
        name,
        type: typeName(p),
        required: s.required?.includes(name) === true && p.default === undefined,
        ...(p.default !== undefined ? { default: p.default } : {}),
        ...(p.description ? { description: p.description } : {}),
        ...nested(p, depth),
      };
    });
  }

  const top = resolve(root);
  if (isObject(top)) return fields(top, 0);
  // A check rule takes a value rather than options (`trim: true`, `regex: '^A'` or `{ pattern, flags }`):
  // shown as one option named after the plugin, the way it is written under a column.
  return [
    {
      name: plugin.name,
      type: typeName(top),
      required: false,
      ...(top.description ? { description: top.description } : {}),
      ...nested(top, 0),
    },
  ];
}

/** One line per option, nested options indented under theirs. */
export function formatOptions(options: readonly OptionDoc[], indent: string): string[] {
  const lines: string[] = [];
  for (const o of options) {
    const dflt =
      o.default !== undefined ? ` (default ${JSON.stringify(o.default)})` : o.required ? ' (required)' : '';
    lines.push(`${indent}${o.name}: ${o.type}${dflt}${o.description ? ` — ${o.description}` : ''}`);
    if (o.options) lines.push(...formatOptions(o.options, `${indent}    `));
    for (const v of o.variants ?? []) {
      lines.push(`${indent}    with ${v.name}:`);
      lines.push(...formatOptions(v.options, `${indent}        `));
    }
  }
  return lines;
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
          for (const line of formatOptions(doc.options, '      ')) process.stdout.write(`${line}\n`);
        }
      }
    });
}
