// A real SIP caller (SIPp) into rtpengine: SIPp sends its recorded RFC 2833
// key presses (pcap replay, needs root or CAP_NET_RAW) and a SIP INFO digit.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreeUdpPort } from '../../embedded/rtpengine.js';
import { runCommand } from '../../embedded/processes.js';
import { startEmbeddedMedia, type EmbeddedMedia } from './embedded-media.js';
import { buildPrompts, loadPromptCatalog, promptFile } from './prompts.js';
import type { DigitEvent } from './rtpengine-media.js';
import { SipTestUas } from './test-support/sip-test-uas.js';
import { TestLeg } from './test-support/test-leg.js';

const scenario = path.join(path.dirname(fileURLToPath(import.meta.url)), 'test-support', 'sipp-ivr-caller.xml');
let workDir: string;
let stack: EmbeddedMedia;
let menuPrompt: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'sipp-ivr-'));
  const catalog = await loadPromptCatalog();
  await buildPrompts(catalog, { names: ['main-menu'] });
  menuPrompt = promptFile(catalog, 'main-menu');
  stack = await startEmbeddedMedia({ logFile: path.join(workDir, 'rtpengine.log') });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
  await rm(workDir, { recursive: true, force: true });
});

describe('SIPp caller through rtpengine', () => {
  it('collects 1 and 2 (RFC 2833), 3 (SIP INFO) up to # (RFC 2833), then hangs up', async () => {
    const { media } = stack;
    const uas = await SipTestUas.open();
    const digits: DigitEvent[] = [];
    const stopListening = media.onDigit((event) => digits.push(event));
    const sippPort = await findFreeUdpPort();
    const mediaPort = await findFreeUdpPort();
    const sipp = runCommand(
      'sipp',
      [
        `${uas.address.host}:${uas.address.port}`,
        '-sf', scenario,
        '-i', '127.0.0.1',
        '-p', String(sippPort),
        '-mp', String(mediaPort),
        '-m', '1',
        '-timeout', '25s',
        '-timeout_error',
        '-nostdin',
        '-trace_err',
        '-error_file', path.join(workDir, 'sipp-errors.log'),
      ],
      { timeoutMs: 30_000, cwd: workDir },
    );
    try {
      const invite = await uas.nextRequest('INVITE', 10_000);
      const leg = new TestLeg(invite.body, invite.header('call-id'));
      uas.reply(invite, 200, 'OK', await media.anchor(leg, invite.body));
      await uas.nextRequest('ACK', 5_000);
      uas.on('INFO', (info) => {
        const parsed = media.receiveSipInfo(leg, info.header('content-type'), info.body);
        uas.reply(info, parsed.ok ? 200 : parsed.sipStatus, parsed.ok ? 'OK' : parsed.reason);
      });

      const result = await media.playAndCollect(leg, { wavPath: menuPrompt, maxDigits: 6, timeoutMs: 8_000, terminator: '#' });
      expect(result).toEqual({ digits: '123', timedOut: false, endedBy: 'terminator' });
      expect(digits.filter((event) => event.legId === leg.id).map((event) => `${event.digit}:${event.source}`)).toEqual([
        '1:rfc2833',
        '2:rfc2833',
        '3:sip-info',
        '#:rfc2833',
      ]);

      expect(await uas.bye(invite, 5_000)).toBe(200);
      leg.hangUp('local');
      const run = await sipp;
      expect(run.code, `sipp failed:\n${run.stdout}\n${run.stderr}`).toBe(0);
    } finally {
      stopListening();
      uas.close();
      await sipp.catch(() => undefined);
    }
  });
});
