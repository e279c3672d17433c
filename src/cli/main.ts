#!/usr/bin/env -S node --max-semi-space-size=32
// A larger young generation: parsing makes many short-lived strings, and 32 MB semi-spaces measured
// ~10 % faster end to end (bench/README.md). `env -S` passes the flag on Linux and macOS.
import { readFileSync } from 'node:fs';
import module from 'node:module';

// Node 22.1+ keeps compiled code between starts (a no-op on Node 20). Before any other import: static
// imports would be compiled first.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

const { Command, CommanderError } = await import('commander');
const { COMMANDS } = await import('./command-list.js');

/** Exit code of a wrong command, argument, option or option value (see EXIT in shared.ts). */
const USAGE = 2;

// `sluice plugins | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

let exitCode = 0;
const exit = (code: number) => {
  exitCode = code;
};

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command()
  .name('sluice')
  .description('Config-driven ETL: pipelines as YAML, exactly-once file loads, a run ledger in PostgreSQL.')
  .version(version)
  .showHelpAfterError('(add --help for usage)')
  // Throw instead of exiting, so that usage errors exit 2 (commander exits 1); settings made here are
  // inherited by every command added below.
  .exitOverride();

// Load only the module of the command that runs (also for `sluice help CMD`); for anything else (`--help`,
// a wrong command) the commands are listed from their summaries.
const args = process.argv.slice(2);
const wanted = COMMANDS.find((c) => c.name === (args[0] === 'help' ? args[1] : args[0]));
if (wanted) (await wanted.load())(program, exit);
else for (const c of COMMANDS) program.command(c.name).description(c.summary);

try {
  await program.parseAsync(process.argv);
  process.exitCode = exitCode;
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version exit 0; every usage error (already printed by commander) exits 2.
    process.exitCode = error.exitCode === 0 ? 0 : USAGE;
  } else {
    const { reportError } = await import('./shared.js');
    process.exitCode = await reportError(error);
  }
}
