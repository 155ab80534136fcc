// bench:journeys - contact journeys across two CRMs against bare workflows on
// the same Temporal server and worker in the same run, and the screen pop
// against the slowest CRM.
//
// Stack: embedded PostgreSQL / Temporal (or DATABASE_URL / TEMPORAL_ADDRESS), a
// real API process (its outbox dispatcher feeds Temporal) and a real worker
// process (worker/main.ts, which also registers noopJourney). No Redis: with
// one worker process the limiters are in-process.
// CRMs: the stack's demo SQL CRM (primary) and a Bitrix24 sandbox that answers
// every request after 80 ms (the slow CRM). The sandbox's leaky bucket is set to
// BENCH_CRM_RATE req/s, burst BENCH_CRM_BURST (200 / 400), and the instance
// declares the same `limits` (the hub paces at the rate; it has no burst to
// declare): on the standard plan's 2 req/s the benchmark would measure Bitrix
// pacing (about 4 requests per contact), not the hub.
// N contacts (BENCH_CONTACTS, 200) are seeded in both CRMs; every 4th has a
// different name in Bitrix. Rules: `name` ranked [SQL CRM, Bitrix], owned by
// the SQL CRM and mirrored to Bitrix, so those contacts are journaled as
// conflicts and written back to Bitrix.
//
// journeys_per_s: per contact one task through POST /v1/tasks (batches of 50,
// 4 in flight) and one ONCRMCONTACTUPDATE webhook from the sandbox to
// /v1/webhooks/<instance> (16 in flight), all fired together. A contact counts
// once its task is done, its webhook event processed (DB) and its journey has
// reconciled (journey history; checked again with the journeyState query).
// Rate = N / (first event fired -> the last of those completions, in Temporal's
// event times, so polling adds nothing). These are the contacts' first events:
// their CRM records are not linked yet, so each webhook goes through the Bitrix
// instance's contact resolver (one workflow, batches) first. journeys_linked_per_s repeats the wave on
// the same contacts (records linked, journeys running): the steady-state path.
// bare_workflows_per_s: N noopJourney workflows started 32 at a time (the outbox
// dispatcher's delivery concurrency) on the same worker / (first start -> last close).
// temporal_tasks_per_*: workflow + activity tasks per contact (per workflow for
// bare), counted in the histories; stderr breaks each wave down stage by stage.
// The short CRM activities run as local activities (inside workflow tasks): their
// markers count as completions when the history records them, and
// local_activities_per_journey says how many ran. worker_cpu_ms_per_* and
// api_cpu_ms_per_* are the processes' CPU time (/proc, Linux) per contact / per
// no-op workflow: unlike the rates, they barely move with the machine's other load.
// bare_vs_journey_cpu = the no-op's CPU / a journey's, each summed over the worker, API, Temporal
// and PostgreSQL (cpu_ms_per_*): with every core busy, journeys_vs_bare tends to it.
// screenpop_*: M phones (BENCH_SCREENPOP_PHONES, 100), BENCH_SCREENPOP_CONCURRENCY
// (4) lines ringing at once: a cold GET /v1/contacts/lookup (default deadline),
// then the same phone again right away (the next ring, served from the card cache).
// slowest_crm_ms: p50 of the Bitrix connector's own findContacts for the same
// phones, same concurrency, through a ConnectorRuntime in this process without
// the hub - the operation the screen pop waits on (one batch request: the
// duplicate search and the list of what it found, so about 80 ms), so
// screenpop / slowest is the hub's own overhead on a cold lookup. The two are
// measured interleaved (per phone, one of each, alternating which goes first),
// so both see the same moment of the machine's other load.
// Final line: {"journeys_per_s","bare_workflows_per_s","screenpop_p95_ms",
//              "screenpop_cached_p95_ms","slowest_crm_ms",...}; about a minute.
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, isGrpcServiceError, WorkflowNotFoundError } from '@temporalio/client';
import pg from 'pg';
import { startBitrixSandbox, type BitrixSandbox } from '../connectors/bitrix24/sandbox/index.js';
import { defaultRegistry } from '../connectors/registry.js';
import { ConnectorRuntime } from '../connectors/runtime.js';
import { loadConfig } from '../core/config.js';
import { findFreePort } from '../embedded/ports.js';
import { noopJourney } from '../workflows/bench/workflows.js';
import { journeyStateQuery, journeyWorkflowId } from '../workflows/journey/shared.js';
import { crmContactResolverWorkflowId } from '../workflows/crm-changes/shared.js';
import { firstActivity, firstCompletion, StageDurations, temporalWork, timelineOf, type WorkflowTimeline } from './journeys-timeline.js';
import { log, percentile, startBenchStack, waitForUrl, type BenchStack } from './support/stack.js';
import { withDatabase } from '../core/db/admin.js';

const CONTACTS = Number(process.env.BENCH_CONTACTS ?? 200);
const SCREENPOP_PHONES = Math.min(CONTACTS, Number(process.env.BENCH_SCREENPOP_PHONES ?? 100));
const SCREENPOP_CONCURRENCY = Number(process.env.BENCH_SCREENPOP_CONCURRENCY ?? 4);
const CRM_RATE = Number(process.env.BENCH_CRM_RATE ?? 200);
const CRM_BURST = Number(process.env.BENCH_CRM_BURST ?? 400);
const CRM_LATENCY_MS = 80;
const TASK_BATCH = 50;
const TASK_LANES = 4;
const WEBHOOK_LANES = 16;
/** The outbox dispatcher's parallel deliveries (core/outbox/dispatcher.ts). */
const START_CONCURRENCY = 32;
const WARMUP_CONTACTS = 4;
const JOURNEY_TIMEOUT_MS = 180_000;

interface BenchContact {
  index: number;
  phone: string;
  name: string;
  bitrixId: number;
  conflicting: boolean;
}

interface Hub {
  stack: BenchStack;
  base: string;
  client: Client;
  taskQueue: string;
  sandbox: BitrixSandbox;
  bitrixInstanceId: string;
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * CPU time (user + system, ms) a process has used so far, from /proc (Linux, 100
 * ticks a second); NaN elsewhere. On a shared machine wall-clock rates swing with
 * the neighbours' load; a process's CPU per journey does not, so it shows where
 * a change helped.
 */
async function cpuMsOf(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return Number.NaN;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU time of a PostgreSQL server: the postmaster and every backend it forked (they live as long as their pools). */
async function postgresCpuMs(dataDir: string | undefined): Promise<number> {
  if (dataDir === undefined) return Number.NaN;
  const postmaster = Number.parseInt((await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0] ?? '', 10);
  if (!Number.isInteger(postmaster)) return Number.NaN;
  let total = await cpuMsOf(postmaster);
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === postmaster) total += (Number(fields[11]) + Number(fields[12])) * 10;
  }
  return total;
}

/** The hub's CPU per item across its processes (the CRM sandboxes are the vendors' and not counted). */
function totalCpuMs(cpu: { worker: number; api: number; temporal: number; postgres: number }): number {
  return cpu.worker + cpu.api + cpu.temporal + cpu.postgres;
}

interface CpuPids {
  worker?: number | undefined;
  api?: number | undefined;
  temporal?: number | undefined;
  postgresDataDir?: string | undefined;
}

/** CPU the worker, the API, Temporal and PostgreSQL used between two calls, per item. */
function cpuMeter(pids: CpuPids) {
  const read = async () => ({
    worker: await cpuMsOf(pids.worker),
    api: await cpuMsOf(pids.api),
    temporal: await cpuMsOf(pids.temporal),
    postgres: await postgresCpuMs(pids.postgresDataDir),
  });
  // The monotonic clock is the one V8 stamps profile samples with: these lines let a
  // BENCH_CPU_PROF profile be cut to one measured phase (bench/support/profile-summary.ts).
  const now = () => String(process.hrtime.bigint() / 1000n);
  return async (phase: string) => {
    const before = await read();
    const startedAt = now();
    return async (items: number) => {
      const after = await read();
      log(`cpu window ${phase}: ${startedAt} ${now()} (monotonic µs), ${items} items`);
      const per = (key: keyof typeof before) => round((after[key] - before[key]) / items, 2);
      return { worker: per('worker'), api: per('api'), temporal: per('temporal'), postgres: per('postgres') };
    };
  };
}

/** Valid US numbers, distinct per index: +1 415 3xx-xxxx. */
function phoneOf(index: number): string {
  return `+1415${300 + Math.floor(index / 10_000)}${String(index % 10_000).padStart(4, '0')}`;
}

async function lanes<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

async function callApi(hub: Pick<Hub, 'base' | 'stack'>, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${hub.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${hub.stack.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

async function expectStatus(hub: Pick<Hub, 'base' | 'stack'>, method: string, path: string, status: number, body?: unknown): Promise<unknown> {
  const answer = await callApi(hub, method, path, body);
  if (answer.status !== status) throw new Error(`${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.json)}`);
  return answer.json;
}

/** Both CRMs hold every contact; every 4th has another name in Bitrix. */
async function seedContacts(stack: BenchStack, sandbox: BitrixSandbox, count: number): Promise<BenchContact[]> {
  const contacts = Array.from({ length: count }, (_, index): BenchContact => {
    const conflicting = index % 4 === 0;
    const phone = phoneOf(index);
    const bitrixId = sandbox.seed('contact', {
      NAME: conflicting ? 'Kontakt' : 'Contact',
      LAST_NAME: String(index),
      PHONE: [{ VALUE: phone, VALUE_TYPE: 'WORK' }],
    });
    return { index, phone, name: `Contact ${index}`, bitrixId, conflicting };
  });
  // The stack names the demo CRM's database after the hub's (bench/support/stack.ts) and keeps the URL sealed.
  const hubDatabase = new URL(stack.databaseUrl).pathname.slice(1);
  const crm = new pg.Client({ connectionString: withDatabase(stack.serverUrl, `${hubDatabase}_crm`) });
  await crm.connect().catch((error: unknown) => {
    throw new Error(`cannot open the demo CRM database ${hubDatabase}_crm (did bench/support/stack.ts rename it?)`, { cause: error });
  });
  try {
    await crm.query(
      `INSERT INTO clients (phone, full_name, updated_at)
       SELECT unnest($1::text[]), unnest($2::text[]), now() - interval '1 day'`,
      [contacts.map((contact) => contact.phone), contacts.map((contact) => contact.name)],
    );
  } finally {
    await crm.end();
  }
  return contacts;
}

/** Every contact gets a task through the API and a webhook from the portal, all at once. */
async function fireEvents(hub: Hub, contacts: BenchContact[], tag: string): Promise<void> {
  const batches: BenchContact[][] = [];
  for (let offset = 0; offset < contacts.length; offset += TASK_BATCH) batches.push(contacts.slice(offset, offset + TASK_BATCH));
  const webhookUrl = `${hub.base}/v1/webhooks/${hub.bitrixInstanceId}`;
  await Promise.all([
    lanes(batches, TASK_LANES, async (batch) => {
      const tasks = batch.map((contact) => ({ phone: contact.phone, name: contact.name, externalId: `${tag}-${contact.index}`, applicationNumber: `APP-${contact.index}` }));
      await expectStatus(hub, 'POST', '/v1/tasks', 202, { tasks });
    }),
    lanes(contacts, WEBHOOK_LANES, async (contact) => {
      const sent = await hub.sandbox.emitContactEvent(webhookUrl, 'ONCRMCONTACTUPDATE', contact.bitrixId);
      if (sent.status !== 200) throw new Error(`webhook for Bitrix contact ${contact.bitrixId} answered ${sent.status}`);
    }),
  ]);
}

/** fetchHistory answers an unknown workflow id with gRPC NOT_FOUND (5), not WorkflowNotFoundError. */
function isNotFound(error: unknown): boolean {
  return error instanceof WorkflowNotFoundError || (isGrpcServiceError(error) && error.code === 5);
}

/** One wave of events: a task and a webhook per contact, fired together. */
interface Wave {
  /** Prefix of the tasks' externalId. */
  tag: string;
  /** 1 for the first events the contacts get, 2 for the next wave. */
  number: number;
  contacts: BenchContact[];
  firedAt: number;
}

interface JourneyOutcome {
  /** Per contact: when its task was delivered and its reconciliation finished, whichever is later (server clock). */
  completedAt: number[];
  timelines: Map<string, WorkflowTimeline>;
}

/** Waits until every contact's journey handled both events of the wave; completion times come from the journey histories. */
async function awaitJourneys(hub: Hub, wave: Wave): Promise<JourneyOutcome> {
  const { stack } = hub;
  const { contacts, firedAt } = wave;
  const deadline = Date.now() + JOURNEY_TIMEOUT_MS;
  const externalIds = contacts.map((contact) => `${wave.tag}-${contact.index}`);
  const bitrixIds = contacts.map((contact) => String(contact.bitrixId));
  const events = { connectorInstanceId: hub.bitrixInstanceId, externalId: { in: bitrixIds }, receivedAt: { gte: new Date(firedAt) } };
  for (;;) {
    const [tasksDone, eventsProcessed] = await Promise.all([
      stack.db.task.count({ where: { projectId: stack.projectId, externalId: { in: externalIds }, status: 'done' } }),
      stack.db.webhookEvent.count({ where: { ...events, processedAt: { not: null } } }),
    ]);
    if (tasksDone === contacts.length && eventsProcessed === contacts.length) break;
    if (Date.now() > deadline) {
      const outbox = await stack.db.outboxEntry.count();
      throw new Error(`journeys stalled: ${tasksDone}/${contacts.length} tasks done, ${eventsProcessed}/${contacts.length} webhook events processed, ${outbox} outbox rows waiting`);
    }
    await sleep(200);
  }

  const timelines = new Map<string, WorkflowTimeline>();
  const completedAt = new Map<string, number>();
  let pending = contacts;
  for (;;) {
    await lanes(pending, 16, async (contact) => {
      const timeline = timelineOf(await hub.client.workflow.getHandle(journeyWorkflowId(stack.projectId, contact.phone)).fetchHistory());
      timelines.set(contact.phone, timeline);
      // Only the wave's events cause these: the previous wave had finished before it was fired.
      const delivered = firstCompletion(timeline, 'deliverTaskToCrm', firedAt);
      const reconciled = firstCompletion(timeline, 'reconcileContact', firedAt);
      if (delivered !== undefined && reconciled !== undefined) completedAt.set(contact.phone, Math.max(delivered, reconciled));
    });
    pending = pending.filter((contact) => !completedAt.has(contact.phone));
    if (pending.length === 0) break;
    if (Date.now() > deadline) {
      const [unroutable] = await stack.db.$queryRaw<{ count: number }[]>`
        SELECT count(*)::int AS count FROM webhook_events WHERE jsonb_exists(payload, 'unroutable')`;
      throw new Error(`${pending.length} journeys have not reconciled (${unroutable?.count ?? 0} webhook events were unroutable)`);
    }
    await sleep(200);
  }
  return { completedAt: [...completedAt.values()], timelines };
}

/** The journeyState query agrees: as many done tasks and reconciliations as waves so far. */
async function verifyJourneyStates(hub: Hub, wave: Wave): Promise<void> {
  let confirmed = 0;
  await lanes(wave.contacts, 16, async (contact) => {
    const state = await hub.client.workflow.getHandle(journeyWorkflowId(hub.stack.projectId, contact.phone)).query(journeyStateQuery);
    const done = state.tasks.filter((task) => task.status === 'done').length;
    if ((state.reconciliations ?? 0) >= wave.number && done >= wave.number) confirmed += 1;
  });
  if (confirmed !== wave.contacts.length) {
    throw new Error(`only ${confirmed} of ${wave.contacts.length} journeys report ${wave.number} done task(s) and reconciliation(s)`);
  }
}

interface TemporalWork {
  workflowTasks: number;
  activityTasks: number;
  /** Run inside workflow tasks (no task of their own); their CPU is in the worker all the same. */
  localActivities: number;
  events: number;
  workflows: number;
}

/** Where a journey's time went and how much Temporal work it took, from the histories and the stored rows. */
async function analyseWave(hub: Hub, wave: Wave, outcome: JourneyOutcome): Promise<TemporalWork> {
  const { stack, client } = hub;
  const { contacts, firedAt } = wave;
  const [tasks, events] = await Promise.all([
    stack.db.task.findMany({ where: { projectId: stack.projectId, externalId: { startsWith: `${wave.tag}-` } }, select: { phone: true, createdAt: true } }),
    stack.db.webhookEvent.findMany({
      where: { connectorInstanceId: hub.bitrixInstanceId, externalId: { in: contacts.map((contact) => String(contact.bitrixId)) }, receivedAt: { gte: new Date(firedAt) } },
      select: { id: true, externalId: true, receivedAt: true },
    }),
  ]);
  const taskCreated = new Map(tasks.map((task) => [task.phone, task.createdAt.getTime()]));
  const eventOf = new Map(events.map((event) => [event.externalId, event]));
  const stages = new StageDurations();
  const work: TemporalWork = { workflowTasks: 0, activityTasks: 0, localActivities: 0, events: 0, workflows: 0 };
  const count = (timeline: WorkflowTimeline, since: number) => {
    for (const task of timeline.workflowTaskSpans.filter((span) => span.scheduledAt >= since)) {
      stages.add('all workflow tasks: scheduled -> started (worker poll backlog)', task.scheduledAt, task.startedAt);
      stages.add('all workflow tasks: started -> completed (worker runs the workflow)', task.startedAt, task.completedAt);
    }
    const done = temporalWork(timeline, since);
    work.workflowTasks += done.workflowTasks;
    work.activityTasks += done.activityTasks;
    work.localActivities += done.localActivities;
    work.events += done.events;
  };
  // Unlinked records go through the Bitrix instance's contact resolver: one workflow for all
  // of them, its work shared by the contacts of the wave.
  const resolverHistory = await client.workflow
    .getHandle(crmContactResolverWorkflowId(hub.bitrixInstanceId))
    .fetchHistory()
    .catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
  const resolver = resolverHistory ? timelineOf(resolverHistory) : undefined;
  if (resolver) {
    count(resolver, firedAt);
    if ((resolver.startedAt ?? 0) >= firedAt) work.workflows += 1;
    const signals = resolver.signals.get('unlinkedCrmChanges')?.filter((at) => at >= firedAt).length ?? 0;
    const batches = resolver.workflowTaskSpans.filter((span) => span.scheduledAt >= firedAt).length;
    if (signals > 0) log(`journeys ${wave.tag}: the contact resolver took ${signals} signal(s) in ${batches} workflow task(s)`);
  }
  await lanes(contacts, 16, async (contact) => {
    const journey = outcome.timelines.get(contact.phone);
    const event = eventOf.get(String(contact.bitrixId));
    if (!journey || !event) return;
    count(journey, firedAt);
    if (wave.number === 1) work.workflows += 1;
    const received = event.receivedAt.getTime();
    const deliver = firstActivity(journey, 'deliverTaskToCrm', firedAt);
    const reconcile = firstActivity(journey, 'reconcileContact', firedAt);
    const taskSignal = journey.signals.get('taskReceived')?.find((at) => at >= firedAt);
    const crmSignal = journey.signals.get('crmChanged')?.find((at) => at >= firedAt);

    stages.add('task: first event fired -> task stored (API)', firedAt, taskCreated.get(contact.phone));
    stages.add('task: stored -> taskReceived signal (API outbox dispatcher)', taskCreated.get(contact.phone), taskSignal);
    stages.add('task: taskReceived signal -> deliverTaskToCrm scheduled', taskSignal, deliver?.scheduledAt);
    stages.add('task: deliverTaskToCrm scheduled -> started', deliver?.scheduledAt, deliver?.startedAt);
    stages.add('task: deliverTaskToCrm started -> completed', deliver?.startedAt, deliver?.completedAt);
    stages.add('webhook: first event fired -> event stored (API)', firedAt, received);
    // A record not linked to a contact yet (the first wave) goes through the resolver first.
    const via = wave.number === 1 ? 'the contact resolver' : 'the API outbox dispatcher';
    stages.add(`webhook: stored -> crmChanged signal (${via})`, received, crmSignal);
    stages.add('webhook: crmChanged signal -> reconcileContact scheduled', crmSignal, reconcile?.scheduledAt);
    stages.add('webhook: reconcileContact scheduled -> started', reconcile?.scheduledAt, reconcile?.startedAt);
    stages.add(`webhook: reconcileContact started -> completed${contact.conflicting ? ' (conflict: write-back)' : ''}`, reconcile?.startedAt, reconcile?.completedAt);
    stages.add('contact: first event fired -> both handled', firedAt, Math.max(deliver?.completedAt ?? Number.NaN, reconcile?.completedAt ?? Number.NaN));
  });
  log(`journeys ${wave.tag}: where the time went (server clock)`);
  for (const line of stages.lines(percentile)) log(line);
  const per = (value: number) => round(value / contacts.length);
  log(
    `journeys ${wave.tag}: Temporal work per contact: ${per(work.workflows)} workflow starts, ${per(work.workflowTasks)} workflow tasks, ` +
      `${per(work.activityTasks)} activity tasks, ${per(work.localActivities)} local activities, ${per(work.events)} history events, 2 signals`,
  );
  return work;
}

async function measureJourneys(hub: Hub, contacts: BenchContact[], tag: string, number: number): Promise<{ perSecond: number; seconds: number; wave: Wave; outcome: JourneyOutcome }> {
  const wave: Wave = { tag, number, contacts, firedAt: Date.now() };
  await fireEvents(hub, contacts, tag);
  log(`journeys ${tag}: ${contacts.length} tasks and ${contacts.length} webhooks accepted in ${Date.now() - wave.firedAt} ms`);
  const outcome = await awaitJourneys(hub, wave);
  const seconds = (Math.max(...outcome.completedAt) - wave.firedAt) / 1000;
  return { perSecond: contacts.length / seconds, seconds, wave, outcome };
}

/** N no-op workflows on the same worker, started START_CONCURRENCY at a time; first start -> last close. */
async function measureBareWorkflows(hub: Hub, count: number, tag: string): Promise<{ perSecond: number; seconds: number; work: ReturnType<typeof temporalWork> }> {
  const ids = Array.from({ length: count }, (_, index) => `bench-noop/${hub.stack.projectId}/${tag}/${index}`);
  const results: Promise<string>[] = [];
  const startedAt = Date.now();
  await lanes(ids, START_CONCURRENCY, async (workflowId) => {
    const handle = await hub.client.workflow.start(noopJourney, {
      workflowId,
      taskQueue: hub.taskQueue,
      args: [{ projectId: hub.stack.projectId, phone: workflowId }],
    });
    results.push(handle.result());
  });
  await Promise.all(results);
  let closedAt = 0;
  await lanes(ids, 16, async (workflowId) => {
    const description = await hub.client.workflow.getHandle(workflowId).describe();
    closedAt = Math.max(closedAt, description.closeTime?.getTime() ?? Date.now());
  });
  const seconds = (closedAt - startedAt) / 1000;
  const stages = new StageDurations();
  const work = { workflowTasks: 0, activityTasks: 0, localActivities: 0, events: 0 };
  await lanes(ids, 16, async (workflowId) => {
    const timeline = timelineOf(await hub.client.workflow.getHandle(workflowId).fetchHistory());
    const done = temporalWork(timeline);
    work.workflowTasks += done.workflowTasks / count;
    work.activityTasks += done.activityTasks / count;
    work.events += done.events / count;
    stages.add('bare: first start -> workflow started', startedAt, timeline.startedAt);
    for (const task of timeline.workflowTaskSpans) {
      stages.add('bare: workflow task scheduled -> started (worker poll backlog)', task.scheduledAt, task.startedAt);
      stages.add('bare: workflow task started -> completed (worker runs the workflow)', task.startedAt, task.completedAt);
    }
  });
  if (tag !== 'warmup') for (const line of stages.lines(percentile)) log(line);
  return {
    perSecond: count / seconds,
    seconds,
    work: { workflowTasks: round(work.workflowTasks), activityTasks: round(work.activityTasks), localActivities: round(work.localActivities), events: round(work.events) },
  };
}

/** The Bitrix connector's own phone lookup, no hub (what the screen pop waits on), and how many requests each took. */
async function directBitrixLookup(hub: Hub): Promise<{ find: (phone: string) => Promise<number>; requestsOf: (phone: string) => Promise<number>; close: () => Promise<void> }> {
  const runtime = new ConnectorRuntime({ registry: defaultRegistry() });
  const crm = await runtime.get({
    id: randomUUID(),
    kind: 'bitrix24',
    name: 'bench-direct',
    config: { webhookUrl: hub.sandbox.webhookBase, limits: { ratePerSecond: CRM_RATE, burst: CRM_BURST } },
    secrets: null,
    limits: null,
    updatedAt: new Date(),
  });
  return {
    async find(phone) {
      const t0 = performance.now();
      const found = await crm.findContacts({ phone });
      const ms = performance.now() - t0;
      if (found.length === 0) throw new Error(`the Bitrix sandbox does not find ${phone}`);
      return ms;
    },
    /** Requests one lookup costs, counted while nothing else asks the sandbox. */
    async requestsOf(phone) {
      const before = hub.sandbox.stats().accepted;
      await crm.findContacts({ phone });
      return hub.sandbox.stats().accepted - before;
    },
    close: () => runtime.closeAll(),
  };
}

interface LookupAnswer {
  cache: 'hit' | 'miss';
  partial: boolean;
  found: boolean;
  tookMs: number;
  sources: { kind: string; status: string; latencyMs: number }[];
}

async function lookup(hub: Hub, phone: string): Promise<{ ms: number; card: LookupAnswer }> {
  const t0 = performance.now();
  const response = await fetch(`${hub.base}/v1/contacts/lookup?phone=${encodeURIComponent(phone)}`, { headers: { authorization: `Bearer ${hub.stack.apiKey}` } });
  const card = (await response.json()) as LookupAnswer;
  const ms = performance.now() - t0;
  if (response.status !== 200) throw new Error(`lookup of ${phone} answered ${response.status}: ${JSON.stringify(card)}`);
  return { ms, card };
}

/**
 * The screen pop and its reference side by side: per phone, the Bitrix connector's own lookup
 * (no hub) and the hub's cold lookup, in alternating order, then the hub's cached one. Measured
 * interleaved, both see the same moment of the machine's other load (a wave's leftovers, the
 * neighbours), so their ratio is the hub's overhead, not the difference between two moments.
 */
async function measureLookups(hub: Hub, phones: string[], probePhone: string) {
  const direct = await directBitrixLookup(hub);
  // A phone outside the measured ones: the direct connector's read cache would answer a measured one later.
  const requestsPerLookup = await direct.requestsOf(probePhone);
  const reference: number[] = [];
  const cold: number[] = [];
  const cached: number[] = [];
  /** Inside the API: the service's own time, and each CRM's as the card reports it. */
  const inside = new Map<string, number[]>();
  const note = (what: string, ms: number) => inside.set(what, [...(inside.get(what) ?? []), ms]);
  let partial = 0;
  let notHit = 0;
  let turn = 0;
  const hubCold = async (phone: string) => {
    const first = await lookup(hub, phone);
    if (first.card.cache !== 'miss') throw new Error(`the first lookup of ${phone} was not cold`);
    if (!first.card.found) throw new Error(`the screen pop does not find ${phone}`);
    if (first.card.partial) partial += 1;
    cold.push(first.ms);
    note('service', first.card.tookMs);
    for (const source of first.card.sources) note(source.kind, source.latencyMs);
  };
  try {
    await lanes(phones, SCREENPOP_CONCURRENCY, async (phone) => {
      if (turn++ % 2 === 0) {
        reference.push(await direct.find(phone));
        await hubCold(phone);
      } else {
        await hubCold(phone);
        reference.push(await direct.find(phone));
      }
      const again = await lookup(hub, phone);
      if (again.card.cache !== 'hit') notHit += 1;
      cached.push(again.ms);
    });
  } finally {
    await direct.close();
  }
  for (const [what, values] of inside) log(`screen pop: cold, ${what} p50 ${round(percentile(values, 50))} ms, p95 ${round(percentile(values, 95))} ms, max ${round(Math.max(...values))} ms`);
  return {
    slowest: { p50: percentile(reference, 50), p95: percentile(reference, 95), requestsPerLookup },
    screenPop: { p50: percentile(cold, 50), p95: percentile(cold, 95), cachedP50: percentile(cached, 50), cachedP95: percentile(cached, 95), partial, notHit },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const stack = await startBenchStack('journeys');
  const sandbox = await startBitrixSandbox({ latencyMs: CRM_LATENCY_MS, ratePerSecond: CRM_RATE, burst: CRM_BURST });
  let connection: Connection | undefined;
  try {
    const port = await findFreePort();
    const api = stack.spawnService('api/main.ts', { API_PORT: String(port), API_HOST: '127.0.0.1' });
    const worker = stack.spawnService('worker/main.ts');
    const startCpuMeter = cpuMeter({ worker: worker.pid, api: api.pid, temporal: stack.serverProcesses.temporalPid, postgresDataDir: stack.serverProcesses.postgresDataDir });
    const base = `http://127.0.0.1:${port}`;
    await waitForUrl(`${base}/healthz`);
    connection = await Connection.connect({ address: stack.temporalAddress });
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });

    const bitrix = (await expectStatus({ base, stack }, 'POST', '/v1/connectors', 201, {
      kind: 'bitrix24',
      name: 'bitrix-slow',
      config: { webhookUrl: sandbox.webhookBase, applicationToken: sandbox.applicationToken, limits: { ratePerSecond: CRM_RATE, burst: CRM_BURST } },
    })) as { id: string };
    const primary = await stack.db.connectorInstance.findFirstOrThrow({ where: { projectId: stack.projectId, isPrimary: true } });
    await expectStatus({ base, stack }, 'PUT', '/v1/reconciliation', 200, {
      fields: { name: { rule: { kind: 'ranked', ranking: [primary.id, bitrix.id] }, owner: primary.id, mirrors: [bitrix.id] } },
    });
    const hub: Hub = { stack, base, client, taskQueue: config.TEMPORAL_TASK_QUEUE, sandbox, bitrixInstanceId: bitrix.id };

    const all = await seedContacts(stack, sandbox, CONTACTS + WARMUP_CONTACTS);
    const contacts = all.slice(0, CONTACTS);
    const warmup = all.slice(CONTACTS);
    log(`journeys: ${all.length} contacts seeded in the SQL CRM and the Bitrix24 sandbox (${contacts.filter((c) => c.conflicting).length} named differently)`);

    // Warm-up (waits for the worker too): bundles, pools, connectors, JIT.
    await measureBareWorkflows(hub, 20, 'warmup');
    await measureJourneys(hub, warmup, 'WARM', 1);
    log('journeys: warmed up');

    const bareCpu = await startCpuMeter('bare');
    const bare = await measureBareWorkflows(hub, CONTACTS, 'run');
    const bareCpuMs = await bareCpu(CONTACTS);
    log(`bare: ${CONTACTS} no-op workflows in ${round(bare.seconds, 2)} s = ${round(bare.perSecond)} /s; CPU per workflow: worker ${bareCpuMs.worker} ms, API ${bareCpuMs.api} ms, Temporal ${bareCpuMs.temporal} ms, PostgreSQL ${bareCpuMs.postgres} ms`);
    log(`bare: Temporal work per workflow: 1 workflow start, ${bare.work.workflowTasks} workflow task, ${bare.work.activityTasks} activity tasks, ${bare.work.events} history events`);

    // Wave 1: the contacts' first events. Their CRM records are not linked yet, so each webhook is resolved first.
    const statsBefore = sandbox.stats();
    const journeysCpu = await startCpuMeter('journeys');
    const journeys = await measureJourneys(hub, contacts, 'JRN', 1);
    const journeyCpuMs = await journeysCpu(CONTACTS);
    const statsAfter = sandbox.stats();
    log(`journeys JRN: ${CONTACTS} contacts in ${round(journeys.seconds, 2)} s = ${round(journeys.perSecond)} /s; CPU per contact: worker ${journeyCpuMs.worker} ms, API ${journeyCpuMs.api} ms, Temporal ${journeyCpuMs.temporal} ms, PostgreSQL ${journeyCpuMs.postgres} ms`);
    await verifyJourneyStates(hub, journeys.wave);
    const conflicts = await stack.db.conflict.findMany({ where: { projectId: stack.projectId }, select: { contactPhone: true }, distinct: ['contactPhone'] });
    const bitrixRequests = statsAfter.accepted - statsBefore.accepted;
    log(
      `journeys JRN: Bitrix24 admitted ${bitrixRequests} requests (${round(bitrixRequests / CONTACTS, 2)} per contact), throttled ${statsAfter.throttled - statsBefore.throttled}; ` +
        `${conflicts.length} contacts in the conflict journal`,
    );
    const work = await analyseWave(hub, journeys.wave, journeys.outcome);

    // Wave 2, for context: the same contacts' next task and webhook, now linked, into running journeys.
    const linked = await measureJourneys(hub, contacts, 'JR2', 2);
    log(`journeys JR2: ${CONTACTS} linked contacts in ${round(linked.seconds, 2)} s = ${round(linked.perSecond)} /s`);
    await verifyJourneyStates(hub, linked.wave);
    const linkedWork = await analyseWave(hub, linked.wave, linked.outcome);

    const phones = contacts.slice(0, SCREENPOP_PHONES).map((contact) => contact.phone);
    const { slowest, screenPop } = await measureLookups(hub, phones, (contacts[SCREENPOP_PHONES] ?? warmup[0]!).phone);
    log(`slowest CRM: Bitrix24 findContacts p50 ${round(slowest.p50)} ms, p95 ${round(slowest.p95)} ms, ${round(slowest.requestsPerLookup, 2)} requests per lookup`);
    log(
      `screen pop: cold p50 ${round(screenPop.p50)} ms, p95 ${round(screenPop.p95)} ms; cached p50 ${round(screenPop.cachedP50, 2)} ms, p95 ${round(screenPop.cachedP95, 2)} ms; ` +
        `${screenPop.partial} partial cards, ${screenPop.notHit} repeats not served from the cache`,
    );

    const journeysRatio = journeys.perSecond / bare.perSecond;
    const screenPopRatio = screenPop.p95 / slowest.p50;
    console.log(
      JSON.stringify({
        journeys_per_s: round(journeys.perSecond),
        bare_workflows_per_s: round(bare.perSecond),
        screenpop_p95_ms: round(screenPop.p95),
        screenpop_cached_p95_ms: round(screenPop.cachedP95, 2),
        slowest_crm_ms: round(slowest.p50),
        journeys_vs_bare: round(journeysRatio, 3),
        screenpop_vs_slowest: round(screenPopRatio, 3),
        targets_met: { journeys: journeysRatio >= 0.5, screenpop: screenPopRatio <= 1.3, screenpop_cached: screenPop.cachedP95 <= 10 },
        contacts: CONTACTS,
        conflicting_contacts: conflicts.length,
        journeys_seconds: round(journeys.seconds, 2),
        journeys_linked_per_s: round(linked.perSecond),
        journeys_linked_vs_bare: round(linked.perSecond / bare.perSecond, 3),
        temporal_tasks_per_journey: round((work.workflowTasks + work.activityTasks) / CONTACTS),
        temporal_tasks_per_linked_journey: round((linkedWork.workflowTasks + linkedWork.activityTasks) / CONTACTS),
        temporal_tasks_per_bare_workflow: bare.work.workflowTasks + bare.work.activityTasks,
        worker_cpu_ms_per_journey: journeyCpuMs.worker,
        worker_cpu_ms_per_bare_workflow: bareCpuMs.worker,
        api_cpu_ms_per_journey: journeyCpuMs.api,
        api_cpu_ms_per_bare_workflow: bareCpuMs.api,
        temporal_cpu_ms_per_journey: journeyCpuMs.temporal,
        temporal_cpu_ms_per_bare_workflow: bareCpuMs.temporal,
        postgres_cpu_ms_per_journey: journeyCpuMs.postgres,
        postgres_cpu_ms_per_bare_workflow: bareCpuMs.postgres,
        cpu_ms_per_journey: round(totalCpuMs(journeyCpuMs), 2),
        cpu_ms_per_bare_workflow: round(totalCpuMs(bareCpuMs), 2),
        // With every core busy the rates' ratio tends to this one, which the machine's other load moves far less.
        bare_vs_journey_cpu: totalCpuMs(journeyCpuMs) > 0 ? round(totalCpuMs(bareCpuMs) / totalCpuMs(journeyCpuMs), 3) : null,
        local_activities_per_journey: round(work.localActivities / CONTACTS),
        bare_seconds: round(bare.seconds, 2),
        bitrix_requests_per_contact: round(bitrixRequests / CONTACTS, 2),
        screenpop_phones: SCREENPOP_PHONES,
        screenpop_concurrency: SCREENPOP_CONCURRENCY,
        screenpop_p50_ms: round(screenPop.p50),
        slowest_crm_p95_ms: round(slowest.p95),
        slowest_crm_requests_per_lookup: round(slowest.requestsPerLookup, 2),
        crm_latency_ms: CRM_LATENCY_MS,
        crm_limit: { ratePerSecond: CRM_RATE, burst: CRM_BURST },
      }),
    );
  } finally {
    await connection?.close();
    await sandbox.close();
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
