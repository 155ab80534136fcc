// The lint rules that keep workflow code replayable must actually fire.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function ruleIds(code: string, filePath = 'workflows/journey/workflows.ts'): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((message) => message.ruleId ?? message.message);
}

describe('workflow determinism lint', () => {
  it.each([
    ["import pg from 'pg';\nexport const x = pg;", 'no-restricted-imports'],
    ["import { readFile } from 'node:fs/promises';\nexport const x = readFile;", 'no-restricted-imports'],
    ["import { createDb } from '../../core/db/client.js';\nexport const x = createDb;", 'no-restricted-imports'],
    ["import { createJourneyActivities } from './activities.js';\nexport const x = createJourneyActivities;", 'no-restricted-imports'],
    ['export const now = Date.now();', 'no-restricted-properties'],
    ['export const env = process.env.X;', 'no-restricted-globals'],
  ])('rejects %j', async (code, rule) => {
    expect(await ruleIds(code)).toContain(rule);
  });

  it('allows type-only imports of activities and the same code outside workflow files', async () => {
    expect(await ruleIds("import type { JourneyActivities } from './activities.js';\nexport type A = JourneyActivities;")).toEqual([]);
    expect(await ruleIds('export const now = Date.now();', 'workflows/journey/activities.ts')).toEqual([]);
  });
});
