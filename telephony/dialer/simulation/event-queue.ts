// A binary min-heap of timed events; events at the same instant come out in insertion order.

export interface Timed<T> {
  at: number;
  sequence: number;
  event: T;
}

export class EventQueue<T> {
  private readonly heap: Timed<T>[] = [];
  private sequence = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, event: T): void {
    const item = { at, sequence: this.sequence++, event };
    const heap = this.heap;
    heap.push(item);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(item, heap[parent]!)) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = item;
  }

  peekTime(): number | undefined {
    return this.heap[0]?.at;
  }

  pop(): Timed<T> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = last;
    return top;
  }
}

function before<T>(a: Timed<T>, b: Timed<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.sequence < b.sequence);
}
