// npm run tasks:import -- file.csv --campaign loans [--url http://127.0.0.1:3000] [--key chk_...] [--id-column application_number]
// Sends a CSV of dialer tasks to a campaign through the API, with a progress bar. The key comes from
// --key, else HUB_API_KEY, else the demo project's key file that `npm start` writes under DATA_DIR.
// Running the same file again adds nothing; rejected rows are listed with their line numbers.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, publicUrl } from '../core/config.js';
import { repoRoot } from '../prisma/tooling/paths.js';
import { ImportRefusedError, importTasksFromCsv, type ImportProgress } from '../telephony/dialer/csv-import.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    campaign: { type: 'string' },
    url: { type: 'string' },
    key: { type: 'string' },
    'id-column': { type: 'string' },
    'batch-size': { type: 'string' },
  },
});
const [file] = positionals;
if (!file || !values.campaign) {
  console.error('usage: npm run tasks:import -- <file.csv> --campaign <name> [--url <api>] [--key <api key>] [--id-column <column>] [--batch-size 500]');
  process.exit(2);
}

const config = loadConfig();
const apiKey = values.key ?? config.HUB_API_KEY ?? (await demoKey());
if (!apiKey) {
  console.error('no API key: pass --key, set HUB_API_KEY, or run `npm start` once to create the demo project');
  process.exit(2);
}

const tty = process.stderr.isTTY;
let lastLine = 0;
let lastText = '';
function draw(progress: ImportProgress): void {
  const share = progress.bytesTotal === 0 ? 1 : Math.min(progress.bytesRead / progress.bytesTotal, 1);
  const text = `${bar(share)} ${(share * 100).toFixed(0).padStart(3)}%  rows ${progress.rowsSent}  accepted ${progress.accepted}  duplicates ${progress.duplicates}  rejected ${progress.rejected}`;
  if (text === lastText) return;
  lastText = text;
  if (tty) process.stderr.write(`\r${text}`);
  else if (Date.now() - lastLine > 2000 || share === 1) {
    process.stderr.write(`${text}\n`);
    lastLine = Date.now();
  }
}

try {
  const result = await importTasksFromCsv({
    file: resolve(file),
    campaign: values.campaign,
    baseUrl: values.url ?? publicUrl(config),
    apiKey,
    ...(values['id-column'] ? { idColumn: values['id-column'] } : {}),
    ...(values['batch-size'] ? { batchSize: Math.max(1, Math.min(1000, Number(values['batch-size']) || 500)) } : {}),
    onProgress: draw,
  });
  if (tty) process.stderr.write('\n');
  console.log(`${result.rowsRead} rows: ${result.accepted} accepted, ${result.duplicates} already there, ${result.rejected} rejected`);
  for (const row of result.rejectedRows.slice(0, 50)) {
    console.log(`  line ${row.line}: ${row.errors.map((error) => `${error.field}: ${error.message}`).join('; ')}`);
  }
  if (result.rejectedRows.length > 50) console.log(`  ... and ${result.rejectedRows.length - 50} more`);
  process.exitCode = result.rejected > 0 ? 1 : 0;
} catch (error) {
  if (tty) process.stderr.write('\n');
  if (error instanceof ImportRefusedError) {
    console.error(error.message);
    process.exitCode = 2;
  } else throw error;
}

function bar(share: number): string {
  const width = 30;
  const full = Math.round(share * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

async function demoKey(): Promise<string | undefined> {
  try {
    return (await readFile(join(resolve(repoRoot, config.DATA_DIR), 'demo-api-key'), 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
