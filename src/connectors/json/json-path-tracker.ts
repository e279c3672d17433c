import { TokenType, type ParsedTokenInfo } from '@streamparser/json';

/**
 * Follows the tokens of a JSON stream to tell when the container at a dotted path opens. (Selecting that
 * container in @streamparser/json instead would keep all its members in memory until it closes.)
 */
export class JsonPathTracker {
  /** Containers (arrays or objects) found at the path so far. */
  found = 0;
  /** True when the last container found at the path was an object rather than an array. */
  foundObject = false;
  /** Container depth of the next token. */
  level = 0;
  private readonly segments: string[];
  private readonly keys: string[] = [];
  private lastString = '';

  constructor(path: string | undefined) {
    this.segments = path ? path.split('.') : [];
  }

  /** Call with every token, before the token parser sees it. */
  see(token: ParsedTokenInfo): void {
    const t = token.token;
    if (t === TokenType.STRING) this.lastString = token.value as string;
    else if (t === TokenType.COLON) this.keys[this.level] = this.lastString;
    else if (t === TokenType.LEFT_BRACE || t === TokenType.LEFT_BRACKET) {
      if (this.level === this.segments.length && this.atPath()) {
        this.found++;
        this.foundObject = t === TokenType.LEFT_BRACE;
      }
      this.level++;
      // Members of an array have no key: a stale key of an earlier object must not match.
      this.keys[this.level] = '#';
    } else if (t === TokenType.RIGHT_BRACE || t === TokenType.RIGHT_BRACKET) this.level--;
  }

  private atPath(): boolean {
    for (let i = 0; i < this.segments.length; i++) if (this.keys[i + 1] !== this.segments[i]) return false;
    return true;
  }
}
