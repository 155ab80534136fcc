// How the screen pop merges what each CRM said: through the reconcile engine
// (core/reconcile), so the card shows the same survivors and conflicts the
// journeys journal, under the project's own rules. Injected so a caller (a test,
// a benchmark) can run the card on other rules without a database row.
import { reconcile } from '../reconcile/engine.js';
import { rulesFromProject } from '../reconcile/rules.js';
import type { Reconcile } from '../reconcile/types.js';

export interface MergeEngine {
  reconcile: Reconcile;
  /** The project's rules (projects.reconciliation) for its sources, primary first. */
  rulesFromProject: typeof rulesFromProject;
}

export const defaultMergeEngine: MergeEngine = { reconcile, rulesFromProject };
