import { describe, expect, it } from 'vitest';
import { RegisterParseError, parseContactBinding, splitHeaderList } from './register-message.js';

describe('REGISTER Contact parsing', () => {
  it('splits on commas outside quotes and angle brackets', () => {
    expect(splitHeaderList('"Desk, 2nd floor" <sip:ann@10.0.0.2;a=1,2>;expires=60, sip:ann@10.0.0.3')).toEqual([
      '"Desk, 2nd floor" <sip:ann@10.0.0.2;a=1,2>;expires=60',
      'sip:ann@10.0.0.3',
    ]);
  });

  it('reads the URI and the expires parameter, with or without angle brackets', () => {
    expect(parseContactBinding('"Ann" <sip:ann@10.0.0.2:5062;transport=udp>;expires=120')).toEqual({ uri: 'sip:ann@10.0.0.2:5062;transport=udp', expires: 120 });
    expect(parseContactBinding('sip:ann@10.0.0.2;expires=0')).toEqual({ uri: 'sip:ann@10.0.0.2', expires: 0 });
    expect(parseContactBinding('<sip:ann@10.0.0.2>')).toEqual({ uri: 'sip:ann@10.0.0.2', expires: undefined });
  });

  it('refuses what is not a SIP contact or not a number of seconds', () => {
    expect(() => parseContactBinding('<mailto:ann@example.com>')).toThrow(RegisterParseError);
    expect(() => parseContactBinding('<sip:ann@10.0.0.2>;expires=soon')).toThrow(/not a number/);
    expect(() => parseContactBinding('<sip:ann@10.0.0.2>;expires=-5')).toThrow(RegisterParseError);
  });
});
