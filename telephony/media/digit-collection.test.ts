import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DigitCollection } from './digit-collection.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('DigitCollection', () => {
  it('waits the prompt plus timeoutMs for a first digit', async () => {
    const collection = new DigitCollection({ maxDigits: 2, timeoutMs: 1_000 });
    collection.promptStarted(3_000);
    await vi.advanceTimersByTimeAsync(3_999);
    expect(collection.isSettled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(collection.outcome).resolves.toEqual({ digits: '', timedOut: true, endedBy: 'timeout' });
  });

  it('restarts the clock at a barge-in and stops the prompt once', async () => {
    const bargeIn = vi.fn();
    const collection = new DigitCollection({ maxDigits: 3, timeoutMs: 1_000, interDigitTimeoutMs: 5_000 }, bargeIn);
    collection.promptStarted(10_000);
    await vi.advanceTimersByTimeAsync(2_000);
    collection.addDigit('1');
    collection.addDigit('2');
    expect(bargeIn).toHaveBeenCalledTimes(1);
    // Overall limit: 1 s after the barge-in, long before the 10 s prompt would have ended.
    await vi.advanceTimersByTimeAsync(1_000);
    await expect(collection.outcome).resolves.toEqual({ digits: '12', timedOut: true, endedBy: 'timeout' });
  });

  it('does not count a digit after the prompt as a barge-in', async () => {
    const bargeIn = vi.fn();
    const collection = new DigitCollection({ maxDigits: 1, timeoutMs: 1_000 }, bargeIn);
    collection.promptStarted(500);
    await vi.advanceTimersByTimeAsync(600);
    collection.addDigit('5');
    expect(bargeIn).not.toHaveBeenCalled();
    await expect(collection.outcome).resolves.toEqual({ digits: '5', timedOut: false, endedBy: 'max-digits' });
  });

  it('ends on the terminator without including it, and ignores digits after the end', async () => {
    const collection = new DigitCollection({ maxDigits: 8, timeoutMs: 1_000, terminator: '#' });
    collection.promptStarted(0);
    for (const digit of '12#34') collection.addDigit(digit);
    await expect(collection.outcome).resolves.toEqual({ digits: '12', timedOut: false, endedBy: 'terminator' });
  });

  it('ends on the inter-digit pause', async () => {
    const collection = new DigitCollection({ maxDigits: 8, timeoutMs: 10_000, interDigitTimeoutMs: 300 });
    collection.promptStarted(0);
    collection.addDigit('4');
    await vi.advanceTimersByTimeAsync(299);
    collection.addDigit('2');
    await vi.advanceTimersByTimeAsync(300);
    await expect(collection.outcome).resolves.toEqual({ digits: '42', timedOut: true, endedBy: 'inter-digit-timeout' });
  });

  it('takes digits that arrive before the prompt has started', async () => {
    const collection = new DigitCollection({ maxDigits: 2, timeoutMs: 1_000 });
    collection.addDigit('9');
    collection.promptStarted(5_000);
    await vi.advanceTimersByTimeAsync(1_000);
    await expect(collection.outcome).resolves.toEqual({ digits: '9', timedOut: true, endedBy: 'timeout' });
  });

  it('rejects when failed and stays settled', async () => {
    const collection = new DigitCollection({ maxDigits: 2, timeoutMs: 1_000 });
    collection.fail(new Error('hung up'));
    collection.addDigit('1');
    await expect(collection.outcome).rejects.toThrow('hung up');
    expect(vi.getTimerCount()).toBe(0);
  });
});
