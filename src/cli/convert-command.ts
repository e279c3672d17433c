import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import type { Command } from 'commander';
import { SluiceError } from '../core/errors.js';
import type { ParserPlugin, PluginContext } from '../core/plugin.js';
import { xlsParser } from '../plugins/parsers/xls-parser.js';
import { xlsxParser } from '../plugins/parsers/xlsx-parser.js';
import { EXIT, formatCount, reportError } from './shared.js';

/** Seed 001's converter: the output file is shared with a group (etl_group), as the seed asks. */
const OUTPUT_MODE = 0o660;

/** One field of RFC 4180 CSV: quoted when it holds the delimiter, a quote, CR or LF. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value as string);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const csvLine = (fields: unknown[]) => `${fields.map(csvField).join(',')}\r\n`;

function parserFor(file: string): ParserPlugin {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.xlsx' || ext === '.xlsm') return xlsxParser as unknown as ParserPlugin;
  if (ext === '.xls') return xlsParser as unknown as ParserPlugin;
  throw new SluiceError('CONFIG_INVALID', `cannot convert ${file}: expected a .xls or .xlsx file`, {
    where: file,
  });
}

/**
 * Converts one sheet to CSV with the same parser an import uses, so that the CSV holds what a pipeline
 * would load. Written to a temporary name and renamed: a reader never sees half a file.
 */
export async function convertToCsv(
  file: string,
  options: { sheet?: string | number; out?: string },
): Promise<{ out: string; rows: number; rejected: number }> {
  const parser = parserFor(file);
  const out = options.out ?? file.replace(/\.[^./\\]*$/, '') + '.csv';
  const opts = parser.options.parse(options.sheet === undefined ? {} : { sheet: options.sheet });
  const controller = new AbortController();
  const context: PluginContext = {
    logger: {
      debug() {},
      info() {},
      warn: (message) => process.stderr.write(`sluice: ${message}\n`),
      error: (message) => process.stderr.write(`sluice: ${message}\n`),
    },
    signal: controller.signal,
    workDir: os.tmpdir(),
  };
  const temp = path.join(path.dirname(out), `.${path.basename(out)}.${randomBytes(4).toString('hex')}.tmp`);
  const input = createReadStream(file);
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', reject);
  });
  try {
    await opened;
  } catch (error) {
    throw new SluiceError(
      'CONFIG_NOT_FOUND',
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      { where: file },
    );
  }
  const output = createWriteStream(temp, { mode: OUTPUT_MODE });
  const write = async (text: string) => {
    if (!output.write(text)) {
      await new Promise<void>((resolve, reject) => {
        output.once('drain', resolve);
        output.once('error', reject);
      });
    }
  };
  let rows = 0;
  let rejected = 0;
  let header = false;
  try {
    for await (const { batch, rejects, rejectedRows } of parser.parse(
      { stream: input, origin: path.basename(file) },
      opts,
      context,
    )) {
      if (!header) {
        await write(csvLine(batch.columns.map((c) => c.name)));
        header = true;
      }
      for (const row of batch.rows) await write(csvLine(row));
      rows += batch.rows.length;
      rejected += rejectedRows;
      for (const r of rejects)
        process.stderr.write(`sluice: ${r.origin}:${r.line}: ${r.message}, row left out\n`);
    }
    output.end();
    await finished(output);
    // The umask may have cleared bits of the mode given at creation.
    await chmod(temp, OUTPUT_MODE);
    await rename(temp, out);
  } catch (error) {
    output.destroy();
    input.destroy();
    await rm(temp, { force: true });
    throw error;
  }
  return { out, rows, rejected };
}

export function registerConvert(program: Command, exit: (code: number) => void) {
  program
    .command('convert')
    .description('Convert a sheet of an Excel workbook (.xls or .xlsx) to CSV, as an import would read it')
    .argument('<file>', 'the workbook (.xls or .xlsx)')
    .option('--sheet <sheet>', 'the sheet: its name, or its position (1 is the first); the first by default')
    .option('--out <file>', 'the CSV file to write; the workbook path with .csv by default')
    .action(async (file: string, flags: { sheet?: string; out?: string }) => {
      try {
        const sheet =
          flags.sheet !== undefined && /^\d+$/.test(flags.sheet) ? Number(flags.sheet) : flags.sheet;
        const result = await convertToCsv(file, {
          ...(sheet !== undefined ? { sheet } : {}),
          ...(flags.out !== undefined ? { out: flags.out } : {}),
        });
        process.stdout.write(`${file} → ${result.out}: ${formatCount(result.rows)} rows\n`);
        if (result.rejected > 0) {
          process.stderr.write(
            `sluice: ${formatCount(result.rejected)} rows had cells right of the last header column and were left out\n`,
          );
          exit(EXIT.failed);
          return;
        }
        exit(EXIT.ok);
      } catch (error) {
        exit(await reportError(error));
      }
    });
}
