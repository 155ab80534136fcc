import { condition, sleep } from '@temporalio/workflow';
import { workflowNow } from './clock.js';

/**
 * Waits for work, or for a quiet spell (`quietMs` of waiting with no work), with one timer per
 * spell instead of one per wait.
 *
 * `condition(hasWork, quietMs)` starts a timer every time it waits and cancels it when work comes:
 * for a contact that hears something every few seconds or minutes under a ten-minute spell, two
 * history events and a server-side timer for every event, none of which ever fires. Here a single
 * watcher sleeps until the spell that began with the current wait would be over; when it wakes
 * and the workflow has been busy since, it sleeps again for what is left of the new spell, and
 * when the workflow is busy at that moment it stops, the next wait starting a new watcher.
 *
 * Workflow code only (it sleeps on the workflow's clock).
 */
export class QuietSpell {
  private waitingSince: number | undefined;
  private over = false;
  private watching = false;

  constructor(private readonly quietMs: number) {}

  /** True when there is work; false when a whole quiet spell passed without any. */
  async waitFor(hasWork: () => boolean): Promise<boolean> {
    if (!hasWork()) {
      this.waitingSince = workflowNow();
      if (!this.watching) void this.watch();
      await condition(() => hasWork() || this.over);
      this.waitingSince = undefined;
    }
    if (!hasWork()) return false;
    // Work that came with the end of a spell wins; the next wait starts a new spell.
    this.over = false;
    return true;
  }

  private async watch(): Promise<void> {
    this.watching = true;
    try {
      for (;;) {
        const since = this.waitingSince;
        if (since === undefined) return;
        const left = since + this.quietMs - workflowNow();
        if (left <= 0) {
          this.over = true;
          return;
        }
        await sleep(left);
      }
    } finally {
      this.watching = false;
    }
  }
}
