/** `${VAR}` or `${VAR:-default}`; `$${` escapes a literal `${`. */
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface Interpolated {
  value: string;
  /** Variables referenced without a default and not set (or set to the empty string). */
  missing: string[];
}

/** Replaces environment references in one string. Pure: the environment is passed in. */
export function interpolateEnv(text: string, env: Record<string, string | undefined>): Interpolated {
  const missing: string[] = [];
  const value = text.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    const found = env[name!];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    // Without a default, an empty variable is as good as unset: say so rather than load from ''.
    missing.push(name!);
    return '';
  });
  return { value, missing };
}
