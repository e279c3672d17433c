import { z } from 'zod';
import { ENV_REFERENCE_PATTERN } from './env.js';

type JsonSchema = Record<string, unknown>;

const REFERENCE: JsonSchema = {
  type: 'string',
  pattern: ENV_REFERENCE_PATTERN,
  description: 'A ${VAR} or ${VAR:-default} reference, filled from the environment when the file is read.',
};

// Keywords that only describe a value: they stay beside an `anyOf` that adds the `${VAR}` alternative.
const ANNOTATIONS = ['title', 'description', 'default', 'examples', 'deprecated', 'readOnly', 'writeOnly'];

const isObject = (v: unknown): v is JsonSchema => v !== null && typeof v === 'object' && !Array.isArray(v);

const typesOf = (schema: JsonSchema) => (schema.type === undefined ? [] : [schema.type].flat());

/** True when a string such as `${PORT}` passes `schema` (a `$ref`'s definition gets its own answer). */
function acceptsReference(schema: JsonSchema): boolean {
  if ('$ref' in schema) return true;
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as JsonSchema[]).some(acceptsReference);
  const types = typesOf(schema);
  if (types.length > 0 && !types.includes('string')) return false;
  return !(
    'enum' in schema ||
    'const' in schema ||
    'pattern' in schema ||
    typeof schema.maxLength === 'number'
  );
}

/** True when `schema` takes some scalar: a field that only takes a mapping or a list never gets text. */
function takesScalar(schema: JsonSchema): boolean {
  if ('$ref' in schema) return false;
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as JsonSchema[]).some(takesScalar);
  const types = typesOf(schema);
  return types.length === 0 || types.some((t) => t !== 'object' && t !== 'array');
}

/** `schema` that also takes a `${VAR}` reference, with its annotations kept on the outside. */
function withReference(schema: JsonSchema): JsonSchema {
  const outer: JsonSchema = {};
  const inner: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) (ANNOTATIONS.includes(key) ? outer : inner)[key] = value;
  const onlyAnyOf = Object.keys(inner).length === 1 && Array.isArray(inner.anyOf);
  return { ...outer, anyOf: onlyAnyOf ? [...(inner.anyOf as JsonSchema[]), REFERENCE] : [inner, REFERENCE] };
}

/**
 * Adapts a JSON Schema to YAML config files as Sluice reads them: every scalar field may hold a `${VAR}`
 * reference (a number or boolean field takes it as text), and `format` keywords are dropped (the loader
 * checks formats itself; a plain validator would refuse formats it does not know). `value` says the node
 * is what a key or an item holds rather than one alternative of several.
 */
function adapt(node: unknown, value: boolean): unknown {
  if (!isObject(node)) return node;
  const out: JsonSchema = {};
  for (const [key, child] of Object.entries(node)) {
    if (key === 'format') continue;
    if ((key === 'properties' || key === 'patternProperties' || key === 'definitions') && isObject(child))
      out[key] = Object.fromEntries(Object.entries(child).map(([k, v]) => [k, adapt(v, true)]));
    else if (key === 'additionalProperties' || key === 'additionalItems' || key === 'contains')
      out[key] = adapt(child, true);
    else if (key === 'items')
      out[key] = Array.isArray(child) ? child.map((c) => adapt(c, true)) : adapt(child, true);
    else if ((key === 'anyOf' || key === 'oneOf' || key === 'allOf') && Array.isArray(child))
      out[key] = child.map((c) => adapt(c, false));
    else if (key === 'not' || key === 'if' || key === 'then' || key === 'else')
      out[key] = adapt(child, false);
    else out[key] = child;
  }
  // `type: [string, number]` is a union that strict validators (ajv) only take with an extra flag.
  if (Array.isArray(out.type) && out.type.length > 1 && !('anyOf' in out)) {
    const { type, ...rest } = out;
    Object.assign(out, { ...rest, anyOf: (type as string[]).map((t) => ({ type: t })) });
    delete out.type;
  }
  return value && takesScalar(out) && !acceptsReference(out) ? withReference(out) : out;
}

/**
 * The JSON Schema (draft-07, which the yaml-language-server supports) of a config file for editors: the
 * input side of `schema` (defaults make keys optional), adapted to `${VAR}` references and free of formats.
 */
export function editorJsonSchema(schema: z.ZodType, annotations: { title: string }): JsonSchema {
  const json = z.toJSONSchema(schema, {
    io: 'input',
    target: 'draft-07',
    unrepresentable: 'any',
  }) as JsonSchema;
  const { $schema, ...rest } = json;
  return { $schema, title: annotations.title, ...(adapt(rest, false) as JsonSchema) };
}
