// Real rtpengine (user space), real RTP over loopback: prompts reach the
// caller's port, RFC 2833 key presses and SIP INFO bodies become digits.
import { createSocket } from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MediaServerError, NgClient } from './ng-client.js';
import { startEmbeddedMedia, type EmbeddedMedia } from './embedded-media.js';
import { buildPrompts, loadPromptCatalog, promptFile } from './prompts.js';
import { LegEndedError, MediaUsageError, UnacceptableSdpError, type DigitEvent, type RtpengineMediaControl } from './rtpengine-media.js';
import { RtpCaller } from './test-support/rtp-caller.js';
import { TestLeg } from './test-support/test-leg.js';
import { readWavInfo } from './wav.js';

let workDir: string;
let stack: EmbeddedMedia;
let media: RtpengineMediaControl;
let menuPrompt: string;
let menuMs: number;
let shortPrompt: string;
let shortMs: number;
const callers: RtpCaller[] = [];
const digitEvents: DigitEvent[] = [];

beforeAll(async () => {
  workDir = await mkdtemp(path.join(tmpdir(), 'media-test-'));
  const catalog = await loadPromptCatalog();
  await buildPrompts(catalog, { names: ['main-menu', 'welcome'] });
  menuPrompt = promptFile(catalog, 'main-menu');
  shortPrompt = promptFile(catalog, 'welcome');
  menuMs = (await readWavInfo(menuPrompt)).durationMs;
  shortMs = (await readWavInfo(shortPrompt)).durationMs;

  stack = await startEmbeddedMedia({ logFile: path.join(workDir, 'rtpengine.log') });
  media = stack.media;
  media.onDigit((event) => digitEvents.push(event));
}, 30_000);

afterAll(async () => {
  await stack?.stop();
  await rm(workDir, { recursive: true, force: true });
});

afterEach(() => {
  for (const caller of callers.splice(0)) caller.close();
});

/** Asks rtpengine itself, over its own ng port, whether it still holds the leg's call. */
async function callKnownToRtpengine(leg: TestLeg | string): Promise<boolean> {
  const ng = new NgClient(stack.rtpengine.ng, 2_000, pino({ level: 'silent' }));
  try {
    await ng.command('query', { 'call-id': typeof leg === 'string' ? leg : leg.sipCallId });
    return true;
  } catch (error) {
    if (error instanceof MediaServerError && /unknown call/i.test(error.reason)) return false;
    throw error;
  } finally {
    ng.close();
  }
}

async function answeredCall(): Promise<{ caller: RtpCaller; leg: TestLeg }> {
  const caller = await RtpCaller.open();
  callers.push(caller);
  const leg = new TestLeg(caller.offerSdp());
  const answer = await media.anchor(leg, caller.offerSdp());
  caller.useAnswer(answer);
  return { caller, leg };
}

describe('RtpengineMediaControl with a real rtpengine', () => {
  it('anchors the call: the answer points the caller at rtpengine, in the codec it offered', async () => {
    const caller = await RtpCaller.open();
    callers.push(caller);
    const leg = new TestLeg(caller.offerSdp());
    const answer = await media.anchor(leg, caller.offerSdp());
    expect(answer).toMatch(/^c=IN IP4 127\.0\.0\.1/m);
    const port = Number(/^m=audio (\d+) RTP\/AVP 0 101/m.exec(answer)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(port).not.toBe(caller.port);
    expect(answer).toMatch(/^a=rtpmap:101 telephone-event\/8000/m);
    await media.release(leg);
  });

  it('plays a WAV prompt: RTP arrives at the caller for the length of the prompt, and play() waits for its end', async () => {
    const { caller, leg } = await answeredCall();
    const started = Date.now();
    await media.play(leg, shortPrompt);
    const elapsed = Date.now() - started;
    await sleep(100);
    const packets = caller.receivedSince(started);
    expect(elapsed).toBeGreaterThanOrEqual(shortMs - 50);
    expect(elapsed).toBeLessThan(shortMs + 1_000);
    // One 20 ms packet per 20 ms of audio, in the PCMU the caller offered; a few may be lost to scheduling, not many.
    expect(packets.length).toBeGreaterThanOrEqual(Math.floor((shortMs / 20) * 0.8));
    expect(packets.length).toBeLessThanOrEqual(Math.ceil(shortMs / 20) + 5);
    expect(new Set(packets.map((packet) => packet.payloadType))).toEqual(new Set([0]));
    const spreadMs = packets.at(-1)!.at - packets[0]!.at;
    expect(spreadMs).toBeGreaterThanOrEqual(shortMs * 0.8);
    await media.release(leg);
  });

  it('collects RFC 2833 digits up to the terminator, and the first digit stops the prompt (barge-in)', async () => {
    const { caller, leg } = await answeredCall();
    digitEvents.length = 0;
    const started = Date.now();
    const collecting = media.playAndCollect(leg, { wavPath: menuPrompt, maxDigits: 5, timeoutMs: 4_000, terminator: '#' });
    await sleep(800); // the caller listens to part of the menu, then answers
    expect(caller.receivedSince(started).length).toBeGreaterThan(20);
    const pressed = Date.now();
    await caller.pressKey('4');
    await sleep(700); // the caller hesitates: a prompt still playing would be heard now
    await caller.pressKeys('2#');
    const result = await collecting;
    expect(result).toEqual({ digits: '42', timedOut: false, endedBy: 'terminator' });
    expect(digitEvents.filter((event) => event.legId === leg.id).map((event) => [event.digit, event.source])).toEqual([
      ['4', 'rfc2833'],
      ['2', 'rfc2833'],
      ['#', 'rfc2833'],
    ]);
    // The menu lasts several seconds; after the first key the prompt stopped, so the caller hears nothing more.
    expect(menuMs).toBeGreaterThan(3_000);
    await sleep(300);
    const late = caller.receivedSince(pressed + 400);
    expect(late).toHaveLength(0);
    await media.release(leg);
  });

  it('stops at maxDigits', async () => {
    const { caller, leg } = await answeredCall();
    const collecting = media.playAndCollect(leg, { wavPath: shortPrompt, maxDigits: 3, timeoutMs: 4_000 });
    await caller.pressKeys('1234');
    expect(await collecting).toEqual({ digits: '123', timedOut: false, endedBy: 'max-digits' });
    await media.release(leg);
  });

  it('times out after the prompt when the caller presses nothing', async () => {
    const { leg } = await answeredCall();
    const started = Date.now();
    const result = await media.playAndCollect(leg, { wavPath: shortPrompt, maxDigits: 4, timeoutMs: 400 });
    const elapsed = Date.now() - started;
    expect(result).toEqual({ digits: '', timedOut: true, endedBy: 'timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(shortMs + 400 - 50);
    expect(elapsed).toBeLessThan(shortMs + 400 + 1_000);
    await media.release(leg);
  });

  it('ends on the inter-digit timeout with the digits so far', async () => {
    const { caller, leg } = await answeredCall();
    const collecting = media.playAndCollect(leg, { wavPath: shortPrompt, maxDigits: 6, timeoutMs: 5_000, interDigitTimeoutMs: 500 });
    await caller.pressKeys('77');
    const pressedAt = Date.now();
    const result = await collecting;
    expect(result).toEqual({ digits: '77', timedOut: true, endedBy: 'inter-digit-timeout' });
    expect(Date.now() - pressedAt).toBeLessThan(1_500);
    await media.release(leg);
  });

  it('collects SIP INFO digits (dtmf-relay and dtmf) and answers bad INFO bodies with 4xx', async () => {
    const { leg } = await answeredCall();
    const collecting = media.playAndCollect(leg, { wavPath: shortPrompt, maxDigits: 3, timeoutMs: 4_000 });
    await sleep(50);
    expect(media.receiveSipInfo(leg, 'application/dtmf-relay', 'Signal=9\r\nDuration=160\r\n')).toEqual({ ok: true, digit: '9', durationMs: 160 });
    expect(media.receiveSipInfo(leg, 'application/dtmf-relay', 'Duration=160\r\n')).toMatchObject({ ok: false, sipStatus: 400 });
    expect(media.receiveSipInfo(leg, 'text/plain', '5')).toMatchObject({ ok: false, sipStatus: 415 });
    expect(media.receiveSipInfo(leg, 'application/dtmf', '*')).toMatchObject({ ok: true, digit: '*' });
    expect(media.receiveSipInfo(leg, 'Application/DTMF-Relay; charset=utf-8', 'signal= 11')).toMatchObject({ ok: true, digit: '#' });
    expect(await collecting).toEqual({ digits: '9*#', timedOut: false, endedBy: 'max-digits' });
    expect(digitEvents.filter((event) => event.legId === leg.id).map((event) => event.source)).toEqual(['sip-info', 'sip-info', 'sip-info']);
    await media.release(leg);
  });

  it('takes DTMF log datagrams from rtpengine only, not from anyone who can reach the port', async () => {
    const { leg } = await answeredCall();
    const collecting = media.playAndCollect(leg, { wavPath: shortPrompt, maxDigits: 1, timeoutMs: 300 });
    const forger = createSocket('udp4');
    await new Promise<void>((resolve) => forger.bind(0, '127.0.0.2', () => resolve()));
    const forged = JSON.stringify({ callid: leg.sipCallId, source_tag: `${leg.id}-far`, type: 'DTMF', event: 7, duration: 100 });
    await new Promise<void>((resolve) => forger.send(forged, media.dtmfLogAddress.port, media.dtmfLogAddress.host, () => resolve()));
    forger.close();
    expect(await collecting).toEqual({ digits: '', timedOut: true, endedBy: 'timeout' });
    await media.release(leg);
  });

  it('keeps two calls apart: digits pressed on one never reach the other', async () => {
    const first = await answeredCall();
    const second = await answeredCall();
    const firstCollect = media.playAndCollect(first.leg, { wavPath: shortPrompt, maxDigits: 2, timeoutMs: 3_000 });
    const secondCollect = media.playAndCollect(second.leg, { wavPath: shortPrompt, maxDigits: 2, timeoutMs: 3_000 });
    await Promise.all([first.caller.pressKeys('12'), second.caller.pressKeys('89')]);
    expect((await firstCollect).digits).toBe('12');
    expect((await secondCollect).digits).toBe('89');
    await media.release(first.leg);
    await media.release(second.leg);
  });

  it('rejects a running collection when the caller hangs up, and frees the leg', async () => {
    const { leg } = await answeredCall();
    const collecting = media.playAndCollect(leg, { wavPath: menuPrompt, maxDigits: 4, timeoutMs: 4_000 });
    await sleep(300);
    expect(await callKnownToRtpengine(leg)).toBe(true);
    leg.hangUp('remote');
    await expect(collecting).rejects.toBeInstanceOf(LegEndedError);
    await expect(media.play(leg, shortPrompt)).rejects.toBeInstanceOf(MediaUsageError);
    // The ended leg's call is deleted in rtpengine, so its ports are free again.
    await expect.poll(() => callKnownToRtpengine(leg), { timeout: 2_000 }).toBe(false);
  });

  it('rejects a running play() when the caller hangs up', async () => {
    const { leg } = await answeredCall();
    const playing = media.play(leg, menuPrompt);
    await sleep(200);
    leg.hangUp('remote');
    await expect(playing).rejects.toBeInstanceOf(LegEndedError);
  });

  it('refuses an offer without audio with 488, and invalid collect options by name', async () => {
    const noAudio = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 40000 RTP/AVP 96\r\n';
    await expect(media.anchor(new TestLeg(noAudio), noAudio)).rejects.toMatchObject({ name: UnacceptableSdpError.name, sipStatus: 488 });
    const { leg } = await answeredCall();
    await expect(media.playAndCollect(leg, { wavPath: shortPrompt, maxDigits: 0, timeoutMs: 1_000 })).rejects.toThrow(/maxDigits/);
    await expect(media.playAndCollect(leg, { wavPath: shortPrompt, maxDigits: 2, timeoutMs: 1_000, terminator: 'x' })).rejects.toThrow(/terminator/);
    await expect(media.play(leg, path.join(workDir, 'missing.wav'))).rejects.toThrow(/ENOENT/);
    await media.release(leg);
  });
});

describe('offer-first media for legs the hub originates (real rtpengine)', () => {
  /** The hub offers through rtpengine; an RTP callee answers and sends its media where the offer points. */
  async function answeredOutbound(): Promise<{ callee: RtpCaller; leg: TestLeg; mediaCallId: string }> {
    const offer = await media.offerOutbound();
    const callee = await RtpCaller.open();
    callers.push(callee);
    callee.useAnswer(offer.sdp);
    const leg = new TestLeg(callee.offerSdp());
    await offer.answered(leg, callee.offerSdp());
    return { callee, leg, mediaCallId: offer.mediaCallId };
  }

  it('offers rtpengine\'s address in G.711 with telephone-event, not the sink\'s', async () => {
    const offer = await media.offerOutbound();
    expect(offer.sdp).toMatch(/^c=IN IP4 127\.0\.0\.1/m);
    const port = Number(/^m=audio (\d+) RTP\/AVP 0 8 101/m.exec(offer.sdp)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(offer.sdp).toMatch(/^a=rtpmap:101 telephone-event\/8000/m);
    expect(await callKnownToRtpengine(offer.mediaCallId)).toBe(true);
    await offer.cancel();
    expect(await callKnownToRtpengine(offer.mediaCallId)).toBe(false);
    await offer.cancel(); // a second cancel (a failed placement cleaned up twice) is harmless
  });

  it('plays a prompt to the callee and collects the callee\'s RFC 2833 digits; hang-up frees the call in rtpengine', async () => {
    const { callee, leg, mediaCallId } = await answeredOutbound();
    digitEvents.length = 0;
    const started = Date.now();
    const collecting = media.playAndCollect(leg, { wavPath: menuPrompt, maxDigits: 4, timeoutMs: 4_000, terminator: '#' });
    await sleep(600);
    // The prompt reaches the callee, in the PCMU it answered with.
    const heard = callee.receivedSince(started);
    expect(heard.length).toBeGreaterThan(15);
    expect(new Set(heard.map((packet) => packet.payloadType))).toEqual(new Set([0]));
    await callee.pressKeys('73#');
    expect(await collecting).toMatchObject({ digits: '73', timedOut: false });
    expect(digitEvents.filter((event) => event.legId === leg.id).map((event) => event.source)).toEqual(['rfc2833', 'rfc2833', 'rfc2833']);
    leg.hangUp('remote');
    await expect.poll(() => callKnownToRtpengine(mediaCallId), { timeout: 2_000 }).toBe(false);
  });

  it('refuses an answer without audio (and frees the offer), a second answer, and a leg that already ended', async () => {
    const offer = await media.offerOutbound();
    const noAudio = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n';
    await expect(offer.answered(new TestLeg(noAudio), noAudio)).rejects.toBeInstanceOf(UnacceptableSdpError);
    expect(await callKnownToRtpengine(offer.mediaCallId)).toBe(false);
    await expect(offer.answered(new TestLeg(noAudio), noAudio)).rejects.toBeInstanceOf(MediaUsageError);

    const late = await media.offerOutbound();
    const gone = new TestLeg('v=0\r\n');
    gone.hangUp('remote');
    await expect(late.answered(gone, 'v=0\r\nm=audio 4000 RTP/AVP 0\r\n')).rejects.toBeInstanceOf(LegEndedError);
    expect(await callKnownToRtpengine(late.mediaCallId)).toBe(false);
    await expect(media.play(gone, shortPrompt)).rejects.toBeInstanceOf(MediaUsageError);
  });
});
