// Task ids sort in the order they were made, across milliseconds and past the per-millisecond counter.
import { describe, expect, it } from 'vitest';
import { timeOrderedId } from './dialer-tasks.js';

describe('timeOrderedId', () => {
  it('is a version 7 UUID that sorts in creation order, even 5,000 in one millisecond', () => {
    const ids = [timeOrderedId(1_700_000_000_000), ...Array.from({ length: 5000 }, () => timeOrderedId(1_700_000_000_001)), timeOrderedId(1_700_000_000_002)];
    expect(ids.every((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
