import type Srf from 'drachtio-srf';
import { describe, expect, it } from 'vitest';
import { parseHostport } from './adapter.js';
import { defaultInboundSteps, firstRejection, type InboundContext } from './inbound-steps.js';
import { causeForStatus } from './legs.js';
import { digitFromSipInfo } from './sip-info.js';

const newInvite = { isNewInvite: true, has: (name: string) => name === 'Contact' } as unknown as Srf.SrfRequest;
const context: InboundContext = { activeCalls: 0, maxConcurrentCalls: 2, closing: false, hasHandler: true };

describe('inbound steps', () => {
  it('let a new call through, and name the reason for each rejection', () => {
    expect(firstRejection(defaultInboundSteps, newInvite, context)).toBeUndefined();
    expect(firstRejection(defaultInboundSteps, newInvite, { ...context, activeCalls: 2 })).toMatchObject({ status: 503, reason: expect.stringContaining('over capacity') });
    expect(firstRejection(defaultInboundSteps, newInvite, { ...context, closing: true })).toMatchObject({ status: 503, reason: 'shutting down' });
    expect(firstRejection(defaultInboundSteps, newInvite, { ...context, hasHandler: false })).toMatchObject({ status: 480 });
    const noContact = { isNewInvite: true, has: () => false } as unknown as Srf.SrfRequest;
    expect(firstRejection(defaultInboundSteps, noContact, context)).toMatchObject({ status: 400, reason: 'missing Contact header' });
    const stale = { isNewInvite: false, has: () => true } as unknown as Srf.SrfRequest;
    expect(firstRejection(defaultInboundSteps, stale, context)).toMatchObject({ status: 481 });
  });
});

describe('signalling helpers', () => {
  it('maps final statuses to hang-up causes', () => {
    expect([486, 600, 480, 408, 487, 503, 404, 603].map(causeForStatus)).toEqual(['busy', 'busy', 'no-answer', 'no-answer', 'cancelled', 'failed', 'rejected', 'rejected']);
  });

  it('reads DTMF from SIP INFO bodies', () => {
    expect(digitFromSipInfo('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n')).toBe('5');
    expect(digitFromSipInfo('application/dtmf-relay', 'Signal=11\r\n')).toBe('#');
    expect(digitFromSipInfo('application/dtmf', '*')).toBe('*');
    expect(digitFromSipInfo('application/dtmf-relay', 'Signal=X\r\n')).toBeUndefined();
    expect(digitFromSipInfo('text/plain', 'Signal=5')).toBeUndefined();
  });

  it("reads drachtio-server's SIP address from its authenticate answer", () => {
    expect(parseHostport('udp/10.0.0.5:5060')).toEqual({ address: '10.0.0.5', port: 5060 });
    expect(parseHostport('udp/127.0.0.1:5080,tcp/127.0.0.1:5080')).toEqual({ address: '127.0.0.1', port: 5080 });
    expect(() => parseHostport('nonsense')).toThrow();
  });
});
