import type { Command } from 'commander';
import { pipelineJsonSchema } from '../core/spec.js';
import { createRegistry } from '../plugins/index.js';

export function registerSchema(program: Command) {
  program
    .command('schema')
    .description('Print the JSON Schema of pipeline files (for editors: yaml-language-server)')
    .action(() => {
      process.stdout.write(JSON.stringify(pipelineJsonSchema(createRegistry()), null, 2) + '\n');
    });
}
