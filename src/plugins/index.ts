import type { Plugin } from '../core/plugin.js';
import { Registry } from '../core/registry.js';
import { checkRules } from './checks/index.js';
import { filesLoader } from './loaders/files/files-loader.js';
import { lakeLoader } from './loaders/lake/lake-loader.js';
import { mysqlLoader } from './loaders/mysql/mysql-loader.js';
import { postgresLoader } from './loaders/postgres/postgres-loader.js';
import { sftpLoader } from './loaders/sftp/sftp-loader.js';
import { csvParser } from './parsers/csv-parser.js';
import { jsonParser } from './parsers/json-parser.js';
import { seriesSheetParser } from './parsers/series-sheet-parser.js';
import { xlsParser } from './parsers/xls-parser.js';
import { xlsxParser } from './parsers/xlsx-parser.js';
import { filesSource } from './sources/files-source.js';
import { httpSource } from './sources/http-source.js';
import { scanSource } from './sources/scan-source.js';
import { imapSource } from './sources/imap-source.js';
import { sftpSource } from './sources/sftp-source.js';
import { sqlSource } from './sources/sql/sql-source.js';
import { transforms } from './transforms/index.js';

/** Every built-in plugin. Registration is explicit: a plugin not listed here does not exist. */
export const builtinPlugins: Plugin[] = [
  filesSource,
  sftpSource,
  sqlSource,
  imapSource,
  httpSource,
  scanSource,
  csvParser,
  xlsxParser,
  xlsParser,
  jsonParser,
  seriesSheetParser,
  ...checkRules,
  ...transforms,
  postgresLoader,
  mysqlLoader,
  filesLoader,
  sftpLoader,
  lakeLoader,
];

export function createRegistry(extra: Plugin[] = []): Registry {
  return new Registry([...builtinPlugins, ...extra]);
}
