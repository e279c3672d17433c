import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse as parseYaml, stringify } from 'yaml';
import { SluiceError } from '../core/errors.js';
import { parseImportRulesYaml, type ImportRule } from '../core/import-rule-spec.js';
import type { Registry } from '../core/registry.js';
import { createRegistry } from '../plugins/index.js';
import {
  getImportRuleDefinition,
  listImportRules,
  replaceImportRule,
  saveImportRules,
  setImportRuleActive,
} from '../store/import-rules.js';
import { plural } from './format.js';
import { readConfigText } from '../core/config-text.js';
import { withStore } from './shared.js';

async function readRulesFile(file: string, registry: Registry): Promise<ImportRule[]> {
  return parseImportRulesYaml(await readConfigText(file), { file, env: process.env, registry });
}

/** `--set key=value`: a key path (`parser.delimiter`) and a YAML scalar (`5`, `true`, `";"`). */
function applySet(definition: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0)
    throw new SluiceError('CONFIG_INVALID', `--set ${assignment}: expected key=value, such as priority=5`);
  const keys = assignment.slice(0, eq).split('.');
  const text = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = text === '' ? undefined : parseYaml(text);
  } catch {
    value = text;
  }
  let target = definition;
  for (const key of keys.slice(0, -1)) {
    const next = target[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) target[key] = {};
    target = target[key] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1]!;
  if (value === undefined || value === null) delete target[last];
  else target[last] = value;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerRules(program: Command) {
  const rules = program
    .command('rules')
    .description('Import rules: which files of an inbox folder go to which table (see docs/imports.md)');

  rules
    .command('list')
    .description('List the import rules, highest priority first')
    .option('--json', 'as JSON')
    .action(async (flags: { json?: boolean }) => {
      const registry = createRegistry();
      const stored = await withStore((db) => listImportRules(db, registry), { existing: true });
      if (flags.json) {
        const out = stored.map((s) => ({ ...s.definition, ...(s.problem ? { problem: s.problem } : {}) }));
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        return;
      }
      if (stored.length === 0)
        process.stdout.write(
          'No import rules yet: `sluice rules add FILE` saves the rules of a YAML file.\n',
        );
      for (const s of stored) {
        const d = s.definition;
        const state = s.problem ? 'INVALID' : d.active ? 'active' : 'inactive';
        process.stdout.write(
          `${String(d.name).padEnd(24)} ${state.padEnd(8)} ${String(d.priority).padStart(4)}  ${String(d.fileType).padEnd(4)} ${String(d.filePattern)} → ${String(d.targetTable)} (schema: ${String(d.schema)})\n`,
        );
        process.stdout.write(`${''.padEnd(24)} ${String(d.sourceFolder)} → ${String(d.archiveFolder)}\n`);
        if (s.problem) process.stdout.write(`${''.padEnd(24)} ${s.problem}\n`);
      }
    });

  rules
    .command('add <file>')
    .description('Check the rules of a YAML file (`rules:` a list) and save them')
    .option('--replace', 'replace rules of the same name instead of refusing them')
    .action(async (file: string, flags: { replace?: boolean }) => {
      const loaded = await readRulesFile(file, createRegistry());
      await withStore((db) => saveImportRules(db, loaded, flags.replace ? 'upsert' : 'insert'));
      process.stdout.write(
        `saved ${plural(loaded.length, 'rule')}: ${loaded.map((r) => r.name).join(', ')}\n`,
      );
    });

  rules
    .command('edit <name>')
    .description(
      'Change a rule: --set key=value (repeatable), or replace it by the one of the same name in --file',
    )
    .option(
      '--set <key=value>',
      'a field (priority=5, parser.delimiter=";", datasetDate.token=2)',
      collect,
      [],
    )
    .option('--file <file>', 'a rules YAML file holding the new version of the rule')
    .action(async (name: string, flags: { set: string[]; file?: string }) => {
      const registry = createRegistry();
      if (!flags.file && flags.set.length === 0)
        throw new SluiceError('CONFIG_INVALID', 'nothing to change: give --set key=value or --file FILE');
      const rule = await withStore(
        async (db) => {
          let next: Record<string, unknown>;
          if (flags.file) {
            const fromFile = (await readRulesFile(flags.file, registry)).find((r) => r.name === name);
            if (!fromFile)
              throw new SluiceError('CONFIG_INVALID', `${flags.file} has no rule named "${name}"`, {
                where: flags.file,
              });
            next = { ...fromFile };
          } else {
            next = await getImportRuleDefinition(db, name);
          }
          for (const assignment of flags.set) applySet(next, assignment);
          return replaceImportRule(db, name, next, registry);
        },
        { existing: true },
      );
      process.stdout.write(`saved rule ${rule.name}\n`);
    });

  for (const [command, active] of [
    ['disable', false],
    ['enable', true],
  ] as const) {
    rules
      .command(`${command} <name>`)
      .description(active ? 'Make a rule match files again' : 'Keep a rule but stop matching files with it')
      .action(async (name: string) => {
        await withStore((db) => setImportRuleActive(db, name, active), { existing: true });
        process.stdout.write(`rule ${name} ${active ? 'enabled' : 'disabled'}\n`);
      });
  }

  rules
    .command('export [names...]')
    .description('Write the rules (all, or the named ones) as YAML that `sluice rules add` reads back')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (names: string[], flags: { out?: string }) => {
      const registry = createRegistry();
      const stored = await withStore(
        (db) => listImportRules(db, registry, names.length > 0 ? { names } : {}),
        { existing: true },
      );
      const missing = names.filter((n) => !stored.some((s) => s.name === n));
      if (missing.length > 0)
        throw new SluiceError(
          'CONFIG_NOT_FOUND',
          `no import rule named ${missing.map((n) => `"${n}"`).join(', ')}`,
        );
      const text = stringify({ rules: stored.map((s) => s.definition) }, { lineWidth: 0 });
      if (flags.out) await writeFile(flags.out, text, { mode: 0o660 });
      else process.stdout.write(text);
    });
}
