import { describe, expect, it } from 'vitest';
import { digitForEvent, parseDtmfLogDatagram, parseSipInfoDigit } from './dtmf.js';

describe('RFC 4733 event codes', () => {
  it('maps 0-15 to digits and nothing else', () => {
    expect([...Array(16).keys()].map((code) => digitForEvent(code)).join('')).toBe('0123456789*#ABCD');
    expect(digitForEvent(16)).toBeUndefined(); // hook flash
    expect(digitForEvent(1.5)).toBeUndefined();
  });
});

describe('rtpengine DTMF log datagrams', () => {
  const datagram = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

  it('reads the call, the pressing party and the digit', () => {
    // The shape rtpengine 10.5 sends (observed on --dtmf-log-dest).
    const parsed = parseDtmfLogDatagram(
      datagram({ callid: 'abc@host', source_tag: 'leg-far', tags: ['leg-hub', 'leg-far'], type: 'DTMF', timestamp: 1795510864, source_ip: '127.0.0.1', event: 11, duration: 120, volume: 10 }),
    );
    expect(parsed).toEqual({ ok: true, event: { callId: 'abc@host', sourceTag: 'leg-far', digit: '#', durationMs: 120 } });
  });

  it('ignores events that are not digits, and reports unreadable datagrams', () => {
    expect(parseDtmfLogDatagram(datagram({ callid: 'c', source_tag: 't', type: 'DTMF', event: 16 }))).toMatchObject({ ok: true, event: undefined });
    expect(parseDtmfLogDatagram(Buffer.from('not json'))).toMatchObject({ ok: false, error: expect.stringMatching(/not JSON/) });
    expect(parseDtmfLogDatagram(datagram({ source_tag: 't', event: 1 }))).toMatchObject({ ok: false, error: expect.stringMatching(/callid/) });
  });
});

describe('SIP INFO bodies', () => {
  it('reads application/dtmf-relay Signal and Duration in any case and spacing', () => {
    expect(parseSipInfoDigit('application/dtmf-relay', 'Signal=5\r\nDuration=250\r\n')).toEqual({ ok: true, digit: '5', durationMs: 250 });
    expect(parseSipInfoDigit('application/dtmf-relay', 'signal = *\nduration= 100')).toEqual({ ok: true, digit: '*', durationMs: 100 });
    expect(parseSipInfoDigit('application/dtmf-relay', 'Signal=10')).toEqual({ ok: true, digit: '*', durationMs: undefined });
    expect(parseSipInfoDigit('application/dtmf-relay', 'Signal=d')).toMatchObject({ ok: true, digit: 'D' });
  });

  it('reads application/dtmf, digit or event code', () => {
    expect(parseSipInfoDigit('application/dtmf', '7\r\n')).toMatchObject({ ok: true, digit: '7' });
    expect(parseSipInfoDigit('application/dtmf; foo=bar', '11')).toMatchObject({ ok: true, digit: '#' });
  });

  it('answers 400 naming the field for malformed bodies', () => {
    expect(parseSipInfoDigit('application/dtmf-relay', 'Duration=100')).toEqual({ ok: false, sipStatus: 400, reason: expect.stringMatching(/^Signal: missing/) });
    expect(parseSipInfoDigit('application/dtmf-relay', 'Signal=X')).toEqual({ ok: false, sipStatus: 400, reason: expect.stringMatching(/^Signal: "X"/) });
    expect(parseSipInfoDigit('application/dtmf-relay', 'Signal=16')).toMatchObject({ ok: false, sipStatus: 400 });
    expect(parseSipInfoDigit('application/dtmf-relay', 'Signal=1\nDuration=-5')).toEqual({ ok: false, sipStatus: 400, reason: expect.stringMatching(/^Duration:/) });
    expect(parseSipInfoDigit('application/dtmf-relay', 'Signal 1')).toEqual({ ok: false, sipStatus: 400, reason: expect.stringMatching(/^body:/) });
    expect(parseSipInfoDigit('application/dtmf', '12 3')).toEqual({ ok: false, sipStatus: 400, reason: expect.stringMatching(/^body:/) });
  });

  it('answers 415 for other body types, naming the ones it reads', () => {
    expect(parseSipInfoDigit('application/media_control+xml', '<x/>')).toEqual({ ok: false, sipStatus: 415, reason: expect.stringMatching(/application\/dtmf-relay/) });
    expect(parseSipInfoDigit(undefined, 'Signal=1')).toEqual({ ok: false, sipStatus: 415, reason: expect.stringMatching(/^Content-Type: missing/) });
  });
});
