import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../../src/cli/command-list.js';

// `sluice --help` lists the commands from COMMANDS without loading their modules: each summary must be
// how the command's own description starts.
describe('the list of commands', () => {
  it.each(COMMANDS.map((c) => [c.name, c] as const))(
    '%s: its summary is how its description starts',
    async (_, entry) => {
      const program = new Command();
      (await entry.load())(program, () => undefined);
      const command = program.commands.find((c) => c.name() === entry.name);
      expect(command, `${entry.name} is registered by its module`).toBeDefined();
      // The listing may keep to the description's first words (`validate` says more under its own --help).
      const said = command!.summary() || command!.description();
      expect(said.startsWith(entry.summary), `"${entry.summary}" does not start "${said}"`).toBe(true);
    },
  );

  it('names each command once', () => {
    const names = COMMANDS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
  });
});
