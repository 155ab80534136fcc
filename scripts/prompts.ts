// npm run prompts:build [-- --dir <folder>] [name ...]
// Renders the IVR prompts of telephony/media/prompts.json to WAV (espeak-ng + sox),
// skipping those already up to date. Output: .build/prompts/ unless --dir is given.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildPrompts, DEFAULT_PROMPTS_DIR, loadPromptCatalog } from '../telephony/media/prompts.js';

const { values, positionals } = parseArgs({
  options: { dir: { type: 'string' }, catalog: { type: 'string' } },
  allowPositionals: true,
});

try {
  const catalog = await loadPromptCatalog(values.catalog);
  const started = Date.now();
  const report = await buildPrompts(catalog, {
    dir: values.dir === undefined ? DEFAULT_PROMPTS_DIR : path.resolve(values.dir),
    names: positionals.length > 0 ? positionals : undefined,
  });
  console.log(`prompts in ${report.dir}: ${report.built.length} built, ${report.upToDate.length} up to date (${Date.now() - started} ms)`);
  for (const name of report.built) console.log(`  built ${name}.wav`);
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
}
