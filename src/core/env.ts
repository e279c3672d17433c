/** `${VAR}` or `${VAR:-default}`; `$${` escapes a literal `${`. */
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** A value that is one reference with a default and nothing else (`${SFTP_PASSWORD:-}`). */
const LONE_REFERENCE_WITH_DEFAULT = /^\$\{[A-Za-z_][A-Za-z0-9_]*:-[^}]*\}$/;

/** A JSON Schema `pattern` for text holding a `${VAR}` reference somewhere (for editors). */
export const ENV_REFERENCE_PATTERN = '\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}';

export interface Interpolated {
  value: string;
  /** Variables referenced without a default and not set (or set to the empty string). */
  missing: string[];
  /** Every variable referenced (a `$${` escape is not a reference). */
  references: string[];
}

/** Replaces environment references in one string. Pure: the environment is passed in. */
export function interpolateEnv(text: string, env: Record<string, string | undefined>): Interpolated {
  const missing: string[] = [];
  const references: string[] = [];
  const value = text.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    references.push(name!);
    const found = env[name!];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    // Without a default, an empty variable is as good as unset: say so rather than load from ''.
    missing.push(name!);
    return '';
  });
  return { value, missing, references };
}

/**
 * True when `text` is one `${VAR:-default}` reference and nothing else: a key whose value is such a
 * reference that comes out empty is left out, as if it were not written.
 */
export function isLoneReferenceWithDefault(text: string): boolean {
  return LONE_REFERENCE_WITH_DEFAULT.test(text);
}
