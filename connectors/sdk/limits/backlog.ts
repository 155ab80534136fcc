// When requests were waiting for their turn. The adaptive controller only
// raises the rate while it is actually used, and only trusts a throughput
// measurement taken while demand exceeded what the CRM allowed.

/** Busy periods older than this are forgotten. */
const historyMs = 10 * 60 * 1000;

export class BacklogTracker {
  /** Closed busy periods, oldest first. */
  private readonly periods: { from: number; to: number }[] = [];
  private busySince: number | null = null;

  /** Call whenever the number of waiting jobs may have changed. */
  update(waiting: number, now: number): void {
    if (waiting > 0 && this.busySince === null) {
      this.busySince = now;
    } else if (waiting === 0 && this.busySince !== null) {
      this.periods.push({ from: this.busySince, to: now });
      this.busySince = null;
      while (this.periods.length > 0 && this.periods[0]!.to < now - historyMs) this.periods.shift();
    }
  }

  /** Share of the time since `from` during which jobs were waiting (0 to 1). */
  busyShare(from: number, now: number): number {
    if (now <= from) return this.busySince !== null ? 1 : 0;
    let busy = this.busySince !== null ? now - Math.max(this.busySince, from) : 0;
    for (const period of this.periods) {
      if (period.to <= from) continue;
      busy += period.to - Math.max(period.from, from);
    }
    return Math.min(1, busy / (now - from));
  }
}
