import { describe, expect, it } from 'vitest';
import { SipParseError, parseNameAddr, parseSipMessage, parseSipUri, splitHeaderList, tagOf } from './sip-message.js';
import { WireDecoder, WireFramingError, frame, parseClientMessage } from './wire.js';

const invite = [
  'INVITE sip:4000@127.0.0.1:5060 SIP/2.0',
  'v: SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK0',
  'f: "Alice, A." <sip:alice@127.0.0.2>;tag=a1',
  't: <sip:4000@127.0.0.1>',
  'i: call-1',
  'CSeq: 7 INVITE',
  'Subject: folded',
  '  header',
  'l: 6',
  '',
  'héllo and more',
].join('\r\n');

describe('SIP message parsing', () => {
  it('reads compact headers, folded lines, list headers and a byte-counted body', () => {
    const message = parseSipMessage(invite);
    expect(message.method).toBe('INVITE');
    expect(message.callId).toBe('call-1');
    expect(message.cseq).toEqual({ seq: 7, method: 'INVITE' });
    expect(message.getAll('via')).toHaveLength(2);
    expect(message.get('subject')).toBe('folded header');
    expect(tagOf(message.get('from'))).toBe('a1');
    expect(parseNameAddr(message.get('from')!).display).toBe('"Alice, A."');
    expect(message.body).toBe('héllo'); // 6 bytes: é takes two
    expect(message.toString()).toContain('Content-Length: 6\r\n');
  });

  it.each([
    ['no start line', 'hello\r\n\r\n'],
    ['missing Call-ID', 'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCSeq: 1 OPTIONS\r\n\r\n'],
    ['CSeq method differs from the request', 'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n'],
    ['body shorter than Content-Length', 'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 10\r\n\r\nabc'],
    ['header line without a colon', 'OPTIONS sip:a@b SIP/2.0\r\nVia SIP/2.0/UDP h\r\n\r\n'],
  ])('rejects %s', (_name, text) => {
    expect(() => parseSipMessage(text)).toThrow(SipParseError);
  });

  it('splits lists only outside quotes and angle brackets; parses URIs', () => {
    expect(splitHeaderList('<sip:a@b;x=1,2>, "c, d" <sip:e@f>')).toEqual(['<sip:a@b;x=1,2>', '"c, d" <sip:e@f>']);
    expect(parseSipUri('sip:+1415@10.0.0.1:5080;transport=udp')).toMatchObject({ user: '+1415', host: '10.0.0.1', port: 5080 });
    expect(() => parseSipUri('mailto:x@y')).toThrow(SipParseError);
  });
});

describe('drachtio wire framing', () => {
  it('reassembles messages split across chunks and counts UTF-8 bytes', () => {
    const decoder = new WireDecoder();
    const one = frame('id1|sip|txn|\r\nINVITE sip:é SIP/2.0');
    const two = frame('id2|ping');
    const bytes = Buffer.from(one + two, 'utf8');
    expect(decoder.push(bytes.subarray(0, 7))).toEqual([]);
    expect(decoder.push(bytes.subarray(7))).toEqual(['id1|sip|txn|\r\nINVITE sip:é SIP/2.0', 'id2|ping']);
    expect(parseClientMessage('id1|sip|txn|\r\nINVITE sip:é SIP/2.0')).toMatchObject({ msgId: 'id1', type: 'sip', args: ['txn', ''], sip: 'INVITE sip:é SIP/2.0' });
  });

  it('refuses a corrupt length prefix', () => {
    expect(() => new WireDecoder().push(Buffer.from('12x#abc'))).toThrow(WireFramingError);
    expect(() => new WireDecoder().push(Buffer.from('0#'))).toThrow(WireFramingError);
  });
});
