import { describe, expect, it } from 'vitest';
import { answerOfferWithSink, hasActiveAudio, sinkOffer } from './sdp.js';

const offer = [
  'v=0',
  'o=- 1545997027 1 IN IP4 127.0.0.1',
  's=tester',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 30000 RTP/AVP 8 0 101',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=sendonly',
  'a=rtcp:30001',
  'a=candidate:1 1 UDP 2130706431 127.0.0.1 30000 typ host',
  'm=video 30002 RTP/AVP 96',
  'a=rtpmap:96 VP8/90000',
  '',
].join('\r\n');

describe('answerOfferWithSink', () => {
  const answer = answerOfferWithSink(offer, { host: '127.0.0.9', port: 4000 });

  it('points the first audio stream at the sink with the offered formats, and declines the rest', () => {
    expect(answer).toMatch(/^m=audio 4000 RTP\/AVP 8 0 101\r$/m);
    expect(answer).toMatch(/^m=video 0 RTP\/AVP 96\r$/m);
    expect(answer.match(/^c=.*$/gm)).toEqual(['c=IN IP4 127.0.0.9']);
  });

  it('answers the direction and drops rtpengine transport attributes', () => {
    expect(answer).toMatch(/^a=recvonly\r$/m);
    expect(answer).not.toMatch(/a=rtcp:|a=candidate/);
    expect(answer.endsWith('\r\n')).toBe(true);
  });

  it('rejects an offer without audio', () => {
    expect(() => answerOfferWithSink('v=0\r\nm=video 1 RTP/AVP 96\r\n', { host: '127.0.0.1', port: 1 })).toThrow(/no audio/);
  });
});

describe('sinkOffer (the hub offering first, for legs it originates)', () => {
  const hubOffer = sinkOffer({ host: '127.0.0.7', port: 40_000 });

  it('offers one audio stream at the sink in G.711 with telephone-event, CRLF-terminated', () => {
    expect(hubOffer.startsWith('v=0\r\n')).toBe(true);
    expect(hubOffer.endsWith('\r\n')).toBe(true);
    expect(hubOffer.match(/^m=.*$/gm)).toEqual(['m=audio 40000 RTP/AVP 0 8 101']);
    expect(hubOffer.match(/^c=.*$/gm)).toEqual(['c=IN IP4 127.0.0.7']);
    expect(hubOffer).toMatch(/^a=rtpmap:101 telephone-event\/8000\r$/m);
    expect(hubOffer).toMatch(/^a=sendrecv\r$/m);
  });

  it('is itself an SDP with active audio', () => {
    expect(hasActiveAudio(hubOffer)).toBe(true);
  });
});

describe('hasActiveAudio', () => {
  it('tells an accepted audio stream from a declined or missing one', () => {
    expect(hasActiveAudio('v=0\r\nm=audio 5004 RTP/AVP 0\r\n')).toBe(true);
    expect(hasActiveAudio('v=0\r\nm=audio 0 RTP/AVP 0\r\n')).toBe(false);
    expect(hasActiveAudio('v=0\r\nm=video 5004 RTP/AVP 96\r\n')).toBe(false);
    expect(hasActiveAudio('')).toBe(false);
  });
});
