import type { Command } from 'commander';
import { lintPipeline } from '../core/spec.js';
import { createRegistry } from '../plugins/index.js';
import { readConfigText } from '../core/config-text.js';
import { EXIT, pipelineFiles, reportError } from './shared.js';

export function registerValidate(program: Command, exit: (code: number) => void) {
  program
    .command('validate')
    .description(
      'Check pipeline files without running them: structure, types and plugin options. ' +
        'Unset ${VAR}s are warnings (the values that depend on them are not checked), so files lint without their secrets.',
    )
    .argument('<pipelines...>', 'pipeline files (YAML), or folders of them')
    .option('--strict-env', 'an unset environment variable is an error, as it is for `sluice run`')
    .action(async (paths: string[], options: { strictEnv?: boolean }) => {
      const registry = createRegistry();
      const files = await pipelineFiles(paths);
      let code: number = EXIT.ok;
      let unset = 0;
      for (const file of files) {
        try {
          const lint = lintPipeline(await readConfigText(file), {
            file,
            env: process.env,
            registry,
            strictEnv: options.strictEnv === true,
          });
          if (!lint.error)
            process.stdout.write(`${file}: ok (pipeline ${lint.name}: ${lint.stages.join(' → ')})\n`);
          for (const warning of lint.warnings) process.stderr.write(`sluice: warning: ${warning}\n`);
          unset += lint.warnings.length;
          if (lint.error) code = Math.max(code, await reportError(lint.error));
        } catch (error) {
          code = Math.max(code, await reportError(error));
        }
      }
      if (unset > 0)
        process.stderr.write(
          `sluice: ${unset === 1 ? 'a value comes' : `${unset} values come`} from unset variables and ` +
            `${unset === 1 ? 'was' : 'were'} not checked; --strict-env makes unset variables errors\n`,
        );
      exit(code);
    });
}
