import type { Command } from 'commander';
import { createRegistry } from '../plugins/index.js';
import { EXIT, pipelineFiles, readPipeline, reportError } from './shared.js';

export function registerValidate(program: Command, exit: (code: number) => void) {
  program
    .command('validate')
    .description('Check pipeline files without running them')
    .argument('<pipelines...>', 'pipeline files (YAML), or folders of them')
    .action(async (paths: string[]) => {
      const registry = createRegistry();
      const files = await pipelineFiles(paths);
      let code: number = EXIT.ok;
      for (const file of files) {
        try {
          const spec = await readPipeline(file, registry);
          process.stdout.write(
            `${file}: ok (pipeline ${spec.name}: ${[spec.source.type, spec.parse?.type, spec.load.type].filter(Boolean).join(' → ')})\n`,
          );
        } catch (error) {
          code = Math.max(code, await reportError(error));
        }
      }
      exit(code);
    });
}
