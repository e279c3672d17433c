// Imports one file under a rule in a process of its own and prints its row count and peak RSS, so that a test
// can see whether memory grows with the file. Usage: node --import tsx import-peak-rss.ts DATABASE_URL RULE_JSON FILE
import path from 'node:path';
import { parseImportRule } from '../../src/core/import-rule-spec.js';
import { createRegistry } from '../../src/plugins/index.js';
import { importFile } from '../../src/runner/import-file.js';
import { openStore } from '../../src/store/connect.js';

const [databaseUrl, ruleJson, file] = process.argv.slice(2);
const registry = createRegistry();
const home = path.join(path.dirname(file!), '.home');
const db = await openStore({ databaseUrl: databaseUrl!, home });
try {
  const rule = parseImportRule(JSON.parse(ruleJson!), registry);
  const result = await importFile({ db, registry, home, rule, file: file! });
  // maxRSS is in kilobytes.
  process.stdout.write(
    JSON.stringify({
      status: result.status,
      rows: result.rowsLoaded,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    }),
  );
} finally {
  await db.close();
}
