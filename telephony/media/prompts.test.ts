// Real espeak-ng and sox: the catalog renders to the WAV format rtpengine plays.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPrompts, loadPromptCatalog, PROMPT_FORMAT, promptFile, type PromptCatalog } from './prompts.js';
import { readWavInfo } from './wav.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'prompts-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const catalog: PromptCatalog = {
  voice: 'en-us',
  wordsPerMinute: 160,
  prompts: { short: 'Hello.', longer: 'For sales, press one. For support, press two. For anything else, stay on the line.' },
};

describe('buildPrompts', () => {
  it('renders every prompt to 8 kHz mono 16-bit PCM whose length follows the text', async () => {
    const out = path.join(dir, 'fresh');
    const report = await buildPrompts(catalog, { dir: out });
    expect(report.built.sort()).toEqual(['longer', 'short']);
    const short = await readWavInfo(promptFile(catalog, 'short', out));
    const longer = await readWavInfo(promptFile(catalog, 'longer', out));
    for (const info of [short, longer]) {
      expect(info).toMatchObject({ audioFormat: 1, channels: PROMPT_FORMAT.channels, sampleRate: PROMPT_FORMAT.sampleRate, bitsPerSample: PROMPT_FORMAT.bitsPerSample });
    }
    expect(short.durationMs).toBeGreaterThan(300);
    expect(longer.durationMs).toBeGreaterThan(short.durationMs * 3);
    // Speech, not silence: the samples reach a real level (gain -n -3 puts the peak near -3 dBFS).
    const samples = (await readFile(promptFile(catalog, 'longer', out))).subarray(-longer.dataBytes);
    let peak = 0;
    for (let i = 0; i + 1 < samples.length; i += 2) peak = Math.max(peak, Math.abs(samples.readInt16LE(i)));
    expect(peak).toBeGreaterThan(16_000);
  });

  it('skips prompts that are up to date and re-renders only the one whose text changed', async () => {
    const out = path.join(dir, 'incremental');
    await buildPrompts(catalog, { dir: out });
    const shortBefore = await stat(promptFile(catalog, 'short', out));
    expect(await buildPrompts(catalog, { dir: out })).toMatchObject({ built: [], upToDate: ['short', 'longer'] });

    const changed: PromptCatalog = { ...catalog, prompts: { ...catalog.prompts, longer: 'Press one.' } };
    const report = await buildPrompts(changed, { dir: out });
    expect(report).toMatchObject({ built: ['longer'], upToDate: ['short'] });
    expect((await stat(promptFile(catalog, 'short', out))).mtimeMs).toBe(shortBefore.mtimeMs);
    expect((await readWavInfo(promptFile(changed, 'longer', out))).durationMs).toBeLessThan(2_000);
  });

  it('renders again when a WAV was deleted, and only named prompts when asked', async () => {
    const out = path.join(dir, 'partial');
    expect(await buildPrompts(catalog, { dir: out, names: ['short'] })).toMatchObject({ built: ['short'], upToDate: [] });
    await rm(promptFile(catalog, 'short', out));
    expect(await buildPrompts(catalog, { dir: out, names: ['short'] })).toMatchObject({ built: ['short'] });
    await expect(buildPrompts(catalog, { dir: out, names: ['nope'] })).rejects.toThrow(/No prompt named "nope"/);
  });
});

describe('loadPromptCatalog', () => {
  it('loads the shipped catalog', async () => {
    const shipped = await loadPromptCatalog();
    expect(Object.keys(shipped.prompts)).toContain('main-menu');
  });

  it('names the field that is wrong', async () => {
    const file = path.join(dir, 'bad.json');
    await writeFile(file, JSON.stringify({ prompts: { 'Bad Name': 'x' } }));
    await expect(loadPromptCatalog(file)).rejects.toThrow(/prompts\.Bad Name|lower-case/);
  });
});
