// IVR prompts are text in prompts.json, rendered to WAV at build time with
// espeak-ng (speech) and sox (8 kHz mono 16-bit, the format rtpengine plays
// into any G.711 call without resampling surprises). The repository carries the
// text only; every WAV can be made again from it.
import { createHash } from 'node:crypto';
import { readFile, mkdir, rename, rm, writeFile, access } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { describeFailure, runCommand } from '../../embedded/processes.js';

const mediaDir = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_CATALOG_PATH = path.join(mediaDir, 'prompts.json');
/** Build output, ignored by git. */
export const DEFAULT_PROMPTS_DIR = path.resolve(mediaDir, '..', '..', '.build', 'prompts');

export const PROMPT_FORMAT = { sampleRate: 8000, channels: 1, bitsPerSample: 16 } as const;

const promptName = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes');

const catalogSchema = z.object({
  /** espeak-ng voice (`espeak-ng --voices`). */
  voice: z.string().regex(/^[A-Za-z0-9_+-]+$/).default('en-us'),
  wordsPerMinute: z.number().int().min(80).max(450).default(150),
  prompts: z.record(promptName, z.string().trim().min(1).max(2_000)).refine((prompts) => Object.keys(prompts).length > 0, 'at least one prompt'),
});

export type PromptCatalog = z.infer<typeof catalogSchema>;

export async function loadPromptCatalog(catalogPath = DEFAULT_CATALOG_PATH): Promise<PromptCatalog> {
  const raw: unknown = JSON.parse(await readFile(catalogPath, 'utf8'));
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${catalogPath}: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** Where the WAV for a catalog prompt is (built or not). */
export function promptFile(catalog: PromptCatalog, name: string, dir = DEFAULT_PROMPTS_DIR): string {
  if (!Object.hasOwn(catalog.prompts, name)) throw new Error(`No prompt named ${JSON.stringify(name)} in the catalog`);
  return path.join(dir, `${name}.wav`);
}

export interface BuildPromptsOptions {
  dir?: string;
  /** Only these prompts; all when omitted. */
  names?: readonly string[];
  /** Per-prompt limit for each tool run; 30 s when omitted. */
  timeoutMs?: number;
}

export interface BuildPromptsReport {
  dir: string;
  built: string[];
  upToDate: string[];
}

const RECIPE_VERSION = 1;
const INSTALL_HINT = 'apt-get install espeak-ng sox';

/**
 * Renders the catalog's prompts that are missing or out of date. A prompt is
 * up to date when its WAV exists and its `.inputs` file records the hash of
 * everything that shaped it: text, voice, speed, output format and the tools'
 * versions. Files are written under temporary names and renamed, so parallel
 * builds (two test files) never see half a WAV.
 */
export async function buildPrompts(catalog: PromptCatalog, options: BuildPromptsOptions = {}): Promise<BuildPromptsReport> {
  const dir = options.dir ?? DEFAULT_PROMPTS_DIR;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const names = options.names ?? Object.keys(catalog.prompts);
  for (const name of names) promptFile(catalog, name, dir); // unknown names fail before any work
  await mkdir(dir, { recursive: true });
  const tools = await toolVersions(timeoutMs);
  const report: BuildPromptsReport = { dir, built: [], upToDate: [] };
  for (const name of names) {
    const text = catalog.prompts[name] as string;
    const inputs = createHash('sha256')
      .update(JSON.stringify({ RECIPE_VERSION, text, voice: catalog.voice, wpm: catalog.wordsPerMinute, PROMPT_FORMAT, tools }))
      .digest('hex');
    const wavPath = path.join(dir, `${name}.wav`);
    const inputsPath = `${wavPath}.inputs`;
    if ((await readIfExists(inputsPath)) === inputs && (await exists(wavPath))) {
      report.upToDate.push(name);
      continue;
    }
    await renderPrompt(text, catalog, wavPath, timeoutMs);
    await writeFile(inputsPath, inputs);
    report.built.push(name);
  }
  return report;
}

async function renderPrompt(text: string, catalog: PromptCatalog, wavPath: string, timeoutMs: number): Promise<void> {
  const unique = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  const speech = `${wavPath}.${unique}.speech.wav`;
  const converted = `${wavPath}.${unique}.wav`;
  try {
    // Text goes in as one argument (no shell); "--" keeps a prompt starting with "-" from reading as an option.
    await run('espeak-ng', ['-v', catalog.voice, '-s', String(catalog.wordsPerMinute), '-w', speech, '--', text], timeoutMs);
    await run(
      'sox',
      [
        speech,
        '-r', String(PROMPT_FORMAT.sampleRate),
        '-c', String(PROMPT_FORMAT.channels),
        '-b', String(PROMPT_FORMAT.bitsPerSample),
        '-e', 'signed-integer',
        converted,
        // Same peak level for every prompt, and a short tail of silence so the last word is not cut when the player stops.
        'gain', '-n', '-3',
        'pad', '0', '0.25',
      ],
      timeoutMs,
    );
    await rename(converted, wavPath);
  } finally {
    await rm(speech, { force: true });
    await rm(converted, { force: true });
  }
}

async function toolVersions(timeoutMs: number): Promise<{ espeak: string; sox: string }> {
  const espeak = await run('espeak-ng', ['--version'], timeoutMs);
  const sox = await run('sox', ['--version'], timeoutMs);
  return { espeak: espeak.trim(), sox: sox.trim() };
}

async function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  let result;
  try {
    result = await runCommand(command, args, { timeoutMs });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${command} not found: ${INSTALL_HINT}`, { cause: error });
    throw error;
  }
  if (result.code !== 0) throw new Error(describeFailure(command, result));
  return result.stdout;
}

async function readIfExists(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}
