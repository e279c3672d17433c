import path from 'node:path';
import { z } from 'zod';

// Which option schemas hold a local path. A registry of its own, so the mark stays out of the JSON Schema
// that editors get (zod copies global metadata into it).
const pathOptions = z.registry<{ path: true }>();

/**
 * Marks a string option as a local file or folder (`downloadTo`, `privateKeyPath`, `archive.dir`). A
 * relative path written in a config file is read from that file's folder: the config loader resolves it
 * (see {@link resolvePaths}), so a plugin always gets an absolute path. A URL (`file:///in`, `sftp://…`)
 * is left as it is. Without an argument, a non-empty string.
 */
export function pathOption<S extends z.ZodType<string, string>>(schema?: S): S {
  return (schema ?? z.string().min(1)).register(pathOptions, { path: true }) as S;
}

/** True for a schema made by {@link pathOption}, or a copy of one (`.describe()` keeps the mark). */
export function isPathOption(schema: z.core.$ZodType): boolean {
  return pathOptions.get(schema) !== undefined;
}

/** `path` read from `baseDir` when it is relative; URLs and absolute paths unchanged. */
export function resolveLocalPath(baseDir: string, value: string): string {
  if (value === '' || /^[a-z][a-z0-9+.-]+:\/\//i.test(value)) return value;
  return path.resolve(baseDir, value);
}

/** The parts of a zod schema's definition that lead to the schemas inside it. */
export interface WalkableDef {
  type: string;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  getter?: () => z.core.$ZodType;
  options?: z.core.$ZodType[];
  left?: z.core.$ZodType;
  right?: z.core.$ZodType;
  shape?: Record<string, z.core.$ZodType>;
  catchall?: z.core.$ZodType;
  element?: z.core.$ZodType;
  valueType?: z.core.$ZodType;
}

/**
 * The schema under any wrappers (optional, default, pipe, lazy…): the one whose definition says what is
 * inside it, with that definition.
 */
export function unwrapSchema(schema: z.core.$ZodType): { schema: z.core.$ZodType; def: WalkableDef } {
  for (;;) {
    const def = schema._zod.def as unknown as WalkableDef;
    switch (def.type) {
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'nonoptional':
      case 'readonly':
      case 'catch':
        schema = def.innerType!;
        break;
      case 'pipe':
        schema = def.in!;
        break;
      case 'lazy':
        schema = def.getter!();
        break;
      default:
        return { schema, def };
    }
  }
}

const isMapping = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A copy of `value` (a config section as written, before validation) where every string at a
 * {@link pathOption} of `schema` is resolved from `baseDir`. Values of the wrong type are left for the
 * validation to report. In a union every branch is applied: resolving twice changes nothing.
 */
export function resolvePaths(schema: z.core.$ZodType, value: unknown, baseDir: string): unknown {
  if (value === undefined || value === null) return value;
  if (isPathOption(schema)) return typeof value === 'string' ? resolveLocalPath(baseDir, value) : value;
  const { schema: inner, def } = unwrapSchema(schema);
  if (inner !== schema) return resolvePaths(inner, value, baseDir);
  switch (def.type) {
    case 'union':
      return def.options!.reduce<unknown>((v, option) => resolvePaths(option, v, baseDir), value);
    case 'intersection':
      return resolvePaths(def.right!, resolvePaths(def.left!, value, baseDir), baseDir);
    case 'object': {
      if (!isMapping(value)) return value;
      const shape = def.shape!;
      return Object.fromEntries(
        Object.entries(value).map(([key, v]) => {
          const field = Object.hasOwn(shape, key) ? shape[key] : def.catchall;
          return [key, field ? resolvePaths(field, v, baseDir) : v];
        }),
      );
    }
    case 'array':
      return Array.isArray(value) ? value.map((v) => resolvePaths(def.element!, v, baseDir)) : value;
    case 'record':
      return isMapping(value)
        ? Object.fromEntries(
            Object.entries(value).map(([k, v]) => [k, resolvePaths(def.valueType!, v, baseDir)]),
          )
        : value;
    default:
      return value;
  }
}
