// The reference workflow of bench:journeys: started and completed on the same
// worker and server as the contact journeys, it measures what Temporal and the
// worker cost with no hub work at all (bare_workflows_per_s). No activities,
// no signals, no timers: one workflow task and the workflow is done.
export async function noopJourney(input: { projectId: string; phone: string }): Promise<string> {
  return input.phone;
}
