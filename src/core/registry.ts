import { SluiceError } from './errors.js';
import type {
  AnySourcePlugin,
  CheckRule,
  LoaderPlugin,
  Plugin,
  PluginKind,
  ParserPlugin,
  TransformPlugin,
} from './plugin.js';

type ByKind = {
  source: AnySourcePlugin;
  parser: ParserPlugin;
  check: CheckRule;
  transform: TransformPlugin;
  loader: LoaderPlugin;
};

/** The plugins a pipeline may name. Built from one explicit list: nothing registers itself. */
export class Registry {
  private readonly byKey = new Map<string, Plugin>();

  constructor(readonly plugins: readonly Plugin[]) {
    for (const plugin of plugins) {
      const key = `${plugin.kind}:${plugin.name}`;
      if (this.byKey.has(key)) throw new Error(`plugin ${key} is registered twice`);
      this.byKey.set(key, plugin);
    }
  }

  list<K extends PluginKind>(kind: K): ByKind[K][] {
    return this.plugins.filter((p): p is ByKind[K] => p.kind === kind);
  }

  find<K extends PluginKind>(kind: K, name: string): ByKind[K] | undefined {
    return this.byKey.get(`${kind}:${name}`) as ByKind[K] | undefined;
  }

  /** The plugin, or a PLUGIN_UNKNOWN error listing the names there are. */
  get<K extends PluginKind>(kind: K, name: string, where?: string): ByKind[K] {
    const plugin = this.find(kind, name);
    if (plugin) return plugin;
    const names = this.list(kind).map((p) => p.name);
    throw new SluiceError(
      'PLUGIN_UNKNOWN',
      `unknown ${kind} "${name}"; expected one of: ${names.join(', ')}`,
      {
        where,
      },
    );
  }

  /** The source serving a URL scheme (`sftp`), for `url:` given without `type:`. */
  sourceForScheme(scheme: string): AnySourcePlugin | undefined {
    return this.list('source').find((s) => s.schemes.includes(scheme));
  }
}
