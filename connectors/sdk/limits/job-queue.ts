// The limiter's own queue of jobs waiting for their turn. It is ours, not
// bottleneck's: a job may leave it at any time (waited too long, daily quota
// gone, limiter closed), and when the shared limiter has to be rebuilt the
// jobs that had not started yet come back here instead of hanging in a dead
// bottleneck instance.

export type TicketState = 'queued' | 'handed' | 'started' | 'settled';

export interface Ticket {
  readonly weight: number;
  /** 0 runs first, 9 last. */
  readonly priority: number;
  readonly enqueuedAt: number;
  state: TicketState;
  /** The pacer generation the ticket was handed to (while `handed`). */
  generation: number;
  /** Fails the ticket when it waited too long. */
  expiry: ReturnType<typeof setTimeout> | undefined;
  /** Its wait was extended once because the pacer already held it (see AdaptiveRequestLimiter.giveUp). */
  extended: boolean;
  /** Units of today's quota this ticket holds (reserved when handed to a pacer, given back if it never starts). */
  quotaReserved: number;
  /** Runs the job and settles the caller's promise with its outcome. Never rejects. */
  execute(): Promise<void>;
  /** Settles the caller's promise with `error` instead. */
  fail(error: unknown): void;
}

export const priorities = 10;
export const defaultPriority = 5;

export function normalizePriority(priority: number | undefined): number {
  if (priority === undefined || !Number.isInteger(priority)) return defaultPriority;
  return Math.min(Math.max(priority, 0), priorities - 1);
}

/** FIFO per priority. Tickets that left (settled) are skipped when reached. */
export class TicketQueue {
  private readonly buckets: Ticket[][] = Array.from({ length: priorities }, () => []);
  private waiting = 0;

  get size(): number {
    return this.waiting;
  }

  push(ticket: Ticket): void {
    ticket.state = 'queued';
    this.buckets[ticket.priority]!.push(ticket);
    this.waiting += 1;
  }

  /** Back to the head of its priority: it was first in line before. */
  pushFront(ticket: Ticket): void {
    ticket.state = 'queued';
    this.buckets[ticket.priority]!.unshift(ticket);
    this.waiting += 1;
  }

  shift(): Ticket | undefined {
    for (const bucket of this.buckets) {
      while (bucket.length > 0) {
        const ticket = bucket.shift()!;
        if (ticket.state === 'queued') {
          this.waiting -= 1;
          return ticket;
        }
      }
    }
    return undefined;
  }

  /** The ticket leaves the queue (it settled elsewhere); its slot is skipped later. */
  forget(ticket: Ticket): void {
    if (ticket.state === 'queued') this.waiting -= 1;
  }

  drain(): Ticket[] {
    const all: Ticket[] = [];
    for (let ticket = this.shift(); ticket; ticket = this.shift()) all.push(ticket);
    return all;
  }
}
