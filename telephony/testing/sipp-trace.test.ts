// Reading what a SIPp peer received from its message trace (-trace_msg): the requests a suite
// asserts on, including in-dialog ones addressed to a Contact without a user part.
import { describe, expect, it } from 'vitest';
import { parseReceivedRequests } from './sipp.js';

const block = (stamp: string, direction: 'received' | 'sent', firstLine: string, callId: string, cseq: string) =>
  [
    `----------------------------------------------- 2026-11-24 ${stamp}`,
    `UDP message ${direction === 'received' ? 'received [500] bytes' : 'sent (300 bytes)'} :`,
    '',
    firstLine,
    'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1',
    'From: <sip:+14155550100@127.0.0.1>;tag=a',
    'To: <sip:14195559001@127.0.0.2>',
    `Call-ID: ${callId}`,
    `CSeq: ${cseq}`,
    'Content-Length: 0',
    '',
  ].join('\r\n');

describe('parseReceivedRequests', () => {
  it('lists each received request once with its user, caller and call, in-dialog requests without a user included', () => {
    const trace = [
      block('18:28:17.961021', 'received', 'INVITE sip:14195559001@127.0.0.2:5060 SIP/2.0', 'c1', '1 INVITE'),
      // A retransmission of the same INVITE: not a second request.
      block('18:28:18.461021', 'received', 'INVITE sip:14195559001@127.0.0.2:5060 SIP/2.0', 'c1', '1 INVITE'),
      block('18:28:18.500000', 'sent', 'SIP/2.0 200 OK', 'c1', '1 INVITE'),
      block('18:28:18.600000', 'received', 'ACK sip:127.0.0.2:5060;transport=UDP SIP/2.0', 'c1', '1 ACK'),
      block('18:28:19.000000', 'received', 'INVITE sip:127.0.0.2:5060;transport=UDP SIP/2.0', 'c1', '2 INVITE'),
      block('18:28:27.529160', 'received', 'BYE sips:127.0.0.2:5061 SIP/2.0', 'c1', '3 BYE'),
    ].join('');
    const requests = parseReceivedRequests(trace);
    expect(requests.map((request) => [request.method, request.user, request.fromUser, request.callId])).toEqual([
      ['INVITE', '14195559001', '+14155550100', 'c1'],
      ['ACK', '', '+14155550100', 'c1'],
      ['INVITE', '', '+14155550100', 'c1'],
      ['BYE', '', '+14155550100', 'c1'],
    ]);
    expect(requests[0]?.at.getTime()).toBe(new Date('2026-11-24T18:28:17.961').getTime());
  });
});
