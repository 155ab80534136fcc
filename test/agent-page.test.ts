// The agent page end to end: a call script stored through the API, a page link made with the
// project key, the page opened in a real browser (Debian's Chromium through playwright-core) on a
// real HTTP server, the contact's card read from the demo SQL CRM, answers saved to PostgreSQL.
// Bad scripts, links and answers are refused naming the field; a page link opens one contact only.
import { once } from 'node:events';
import { serve, type ServerType } from '@hono/node-server';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemoCrmContact, startTestHub, type Json, type TestHub } from './support/hub.js';

let hub: TestHub;
let server: ServerType;
let base: string;
let browser: Browser;

const script = {
  title: 'Loan application check',
  intro: 'Hello, this is Acme Loans about your application.',
  questions: [
    { id: 'fullName', prompt: 'Confirm your full name', field: 'name', kind: 'text', required: true },
    { id: 'income', prompt: 'Monthly income', field: 'fields.income', kind: 'number' },
    { id: 'employed', prompt: 'Are you employed?', field: 'fields.employed', kind: 'yes-no' },
    { id: 'purpose', prompt: 'Purpose of the loan', field: 'fields.purpose', kind: 'choice', options: ['car', 'home', 'other'] },
  ],
};

const seedSqlCrm = (phone: string, name: string, extra: Record<string, unknown>) => seedDemoCrmContact(hub, phone, name, extra);

async function pageLink(phone: string, extra: Json = {}): Promise<string> {
  const link = await hub.call('POST', '/v1/agent-pages', { agent: 'olga', phone, script: 'loan-check', callId: 'call-42', ...extra });
  expect(link.status, JSON.stringify(link.body)).toBe(201);
  return link.body.token as string;
}

const pagePost = (token: string, body: unknown) =>
  hub.app.request(`/agent/${token}/answers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

beforeAll(async () => {
  hub = await startTestHub({ worker: false });
  expect((await hub.call('PUT', '/v1/scripts/loan-check', script)).status).toBe(201);
  expect((await hub.call('PUT', '/v1/telephony/queues/front', { agents: ['olga', 'ivan'] })).status).toBe(201);
  server = serve({ fetch: hub.app.fetch, hostname: '127.0.0.1', port: 0 });
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  await hub?.close();
});

describe('call scripts', () => {
  it('are stored, listed and replaced; a bad one is refused naming each field', async () => {
    const listed = await hub.call('GET', '/v1/scripts');
    expect(listed.body.scripts.map((entry: Json) => entry.name)).toEqual(['loan-check']);
    expect(listed.body.scripts[0].questions[0]).toEqual({ ...script.questions[0] });
    expect((await hub.call('PUT', '/v1/scripts/loan-check', script)).status).toBe(200);

    const bad = await hub.call('PUT', '/v1/scripts/other', {
      title: 'x',
      colour: 'red',
      questions: [
        { id: 'a', prompt: 'A', field: 'fields.a', kind: 'choice' },
        { id: 'a', prompt: 'B', field: 'fields.a', kind: 'text', options: ['x'] },
        { id: 'c', prompt: 'C', field: 'email', kind: 'number' },
      ],
    });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((error: Json) => error.field)).toEqual(['colour', 'questions.0.options', 'questions.1.id', 'questions.1.field', 'questions.1.options', 'questions.2.kind']);
    const shape = await hub.call('PUT', '/v1/scripts/other', { title: 'x', questions: [{ id: '1a', prompt: 'A', field: 'phone', kind: 'date' }] });
    expect(shape.body.errors.map((error: Json) => error.field).sort()).toEqual(['questions.0.field', 'questions.0.id', 'questions.0.kind']);
    expect((await hub.call('PUT', '/v1/scripts/bad name', script)).body.errors).toEqual([{ field: 'path.name', message: expect.any(String) }]);
    expect((await hub.call('GET', '/v1/scripts/other')).status).toBe(404);
  });
});

describe('page links', () => {
  it('refuse an unknown script, a number that is not one and a too-short life, naming each', async () => {
    const bad = await hub.call('POST', '/v1/agent-pages', { agent: 'olga', phone: 'call me', script: 'nope', ttlSeconds: 5 });
    expect(bad.status).toBe(422);
    expect(bad.body.errors.map((error: Json) => error.field)).toEqual(['ttlSeconds']);
    const refs = await hub.call('POST', '/v1/agent-pages', { agent: 'olga', phone: 'call me', script: 'nope' });
    expect(refs.body.errors.map((error: Json) => error.field)).toEqual(['phone', 'script']);
  });

  it('open one contact until they expire; unknown and expired links say so', async () => {
    const token = await pageLink('+14155550301');
    const view = await hub.app.request(`/agent/${token}/view`);
    expect(view.status).toBe(200);
    expect(view.headers.get('cache-control')).toBe('no-store');
    expect(view.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await view.json()).toMatchObject({ agent: 'olga', phone: '+14155550301', script: { name: 'loan-check' }, card: { phone: '+14155550301', found: false } });

    expect((await hub.app.request('/agent/cap_unknown/view')).status).toBe(404);
    expect((await hub.app.request('/agent/cap_unknown')).status).toBe(404);
    await hub.db.agentPageLink.updateMany({ where: { contactPhone: '+14155550301' }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await hub.app.request(`/agent/${token}/view`);
    expect(expired.status).toBe(410);
    expect(expired.headers.get('content-type')).toBe('application/problem+json');
    expect((await pagePost(token, { answers: { fullName: 'x' } })).status).toBe(410);
  });

  it('take answers by question, checked against the script, recorded as the link\'s agent and call', async () => {
    const phone = '+14155550302';
    const token = await pageLink(phone);
    const wrong = await pagePost(token, { answers: { fullName: '', income: 'lots', employed: 'yes', purpose: 'boat', shoeSize: 42 } });
    expect(wrong.status).toBe(422);
    expect(((await wrong.json()) as { errors: Json[] }).errors).toEqual([
      { field: 'answers.shoeSize', message: 'not a question of this script' },
      { field: 'answers.fullName', message: 'required' },
      { field: 'answers.income', message: 'expected a number' },
      { field: 'answers.employed', message: 'expected yes or no (true / false)' },
      { field: 'answers.purpose', message: 'expected one of: car, home, other' },
    ]);
    const asText = await hub.app.request(`/agent/${token}/answers`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"answers":{"fullName":"Ada"}}' });
    expect(asText.status).toBe(415);
    expect(await hub.db.agentAnswer.count({ where: { contactPhone: phone } })).toBe(0);

    const saved = await pagePost(token, { answers: { fullName: 'Ada King', income: 1200, employed: true } });
    expect(saved.status).toBe(202);
    expect(((await saved.json()) as Json).saved).toEqual(['fullName', 'income', 'employed']);
    const rows = await hub.db.agentAnswer.findMany({ where: { contactPhone: phone }, orderBy: { field: 'asc' } });
    expect(rows.map((row) => [row.field, row.value, row.agent, row.callId])).toEqual([
      ['fields.employed', true, 'olga', 'call-42'],
      ['fields.income', 1200, 'olga', 'call-42'],
      ['name', 'Ada King', 'olga', 'call-42'],
    ]);
  });
});

describe('branching scripts', () => {
  const branching = {
    title: 'Employment',
    questions: [
      { id: 'employed', prompt: 'Are you employed?', field: 'fields.employed', kind: 'yes-no', required: true },
      { id: 'employer', prompt: 'Who employs you?', field: 'fields.employer', kind: 'text', required: true, showIf: { question: 'employed', equals: true } },
      { id: 'since', prompt: 'Since which year?', field: 'fields.employedSince', kind: 'number', showIf: { question: 'employer', equals: 'Acme' } },
    ],
  };

  it('hang a question on an earlier one only', async () => {
    const forward = await hub.call('PUT', '/v1/scripts/loops', { title: 'x', questions: [{ ...branching.questions[1], showIf: { question: 'employed', equals: true } }, branching.questions[0]] });
    expect(forward.body.errors).toEqual([{ field: 'questions.0.showIf.question', message: '"employed" is not asked before this question' }]);
    const unknown = await hub.call('PUT', '/v1/scripts/loops', { title: 'x', questions: [branching.questions[0], { ...branching.questions[1], showIf: { question: 'married', equals: true } }] });
    expect(unknown.body.errors).toEqual([{ field: 'questions.1.showIf.question', message: 'no question "married"' }]);
  });

  it('take answers only for the questions the answers so far ask, and require them only then', async () => {
    expect((await hub.call('PUT', '/v1/scripts/employment', branching)).status).toBe(201);
    const link = await hub.call('POST', '/v1/agent-pages', { agent: 'olga', phone: '+14155550306', script: 'employment' });
    const token = link.body.token as string;
    const notAsked = await pagePost(token, { answers: { employed: false, employer: 'Acme' } });
    expect(notAsked.status).toBe(422);
    expect(((await notAsked.json()) as { errors: Json[] }).errors).toEqual([{ field: 'answers.employer', message: 'not asked: shown only when employed is true' }]);
    const missing = await pagePost(token, { answers: { employed: true } });
    expect(((await missing.json()) as { errors: Json[] }).errors).toEqual([{ field: 'answers.employer', message: 'required' }]);
    expect((await pagePost(token, { answers: { employed: true, employer: 'Acme', since: 2019 } })).status).toBe(202);
    expect((await pagePost(token, { answers: { employed: false } })).status).toBe(202);
  });

  it('show a branch in the browser only while its answer holds', async () => {
    const link = await hub.call('POST', '/v1/agent-pages', { agent: 'olga', phone: '+14155550307', script: 'employment' });
    const page = await browser.newPage();
    try {
      await page.goto(`${base}/agent/${link.body.token as string}`);
      await page.waitForSelector('#script:not([hidden])');
      expect(await page.isHidden('li[data-question="employer"]')).toBe(true);
      await page.selectOption('#q-employed', 'true');
      expect(await page.isVisible('li[data-question="employer"]')).toBe(true);
      expect(await page.isHidden('li[data-question="since"]')).toBe(true);
      await page.fill('#q-employer', 'Acme');
      expect(await page.isVisible('li[data-question="since"]')).toBe(true);
      await page.fill('#q-since', '2019');
      // Taking "yes" back hides the branch, and what was typed in it is not sent.
      await page.selectOption('#q-employed', 'false');
      expect(await page.isHidden('li[data-question="employer"]')).toBe(true);
      expect(await page.isHidden('li[data-question="since"]')).toBe(true);
      await page.click('#save');
      await page.waitForSelector('#saved:not([hidden])');
      const rows = await hub.db.agentAnswer.findMany({ where: { contactPhone: '+14155550307' } });
      expect(rows.map((row) => [row.field, row.value])).toEqual([['fields.employed', false]]);
    } finally {
      await page.close();
    }
  });
});

describe('callbacks from the page', () => {
  it('are booked for the page\'s contact and agent into the link\'s queue, only where the link offers them', async () => {
    const badLink = await hub.call('POST', '/v1/agent-pages', { agent: 'olga', phone: '+14155550304', script: 'loan-check', callback: { queue: 'nowhere', callerId: 'x' } });
    expect(badLink.body.errors.map((error: Json) => error.field)).toEqual(['callback.queue', 'callback.callerId']);

    const plain = await pageLink('+14155550304');
    const refused = await hub.app.request(`/agent/${plain}/callback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ at: new Date(Date.now() + 3_600_000).toISOString() }) });
    expect(refused.status).toBe(409);

    const token = await pageLink('+14155550304', { callback: { queue: 'front', callerId: '+1 415 555 0100' } });
    const post = (body: unknown) => hub.app.request(`/agent/${token}/callback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await post({ at: 'tomorrow', colour: 'red' });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { errors: Json[] }).errors).toEqual([{ field: 'colour', message: 'unknown field' }]);
    const badAt = await post({ at: 'tomorrow' });
    expect(((await badAt.json()) as { errors: Json[] }).errors.map((error) => error.field)).toEqual(['at']);
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const booked = await post({ at, note: 'after payday' });
    expect(booked.status).toBe(201);
    const row = await hub.db.callback.findFirst({ where: { projectId: hub.projectId, phone: '+14155550304' } });
    expect(row).toMatchObject({ agent: 'olga', queue: 'front', callerId: '+14155550100', note: 'after payday', state: 'scheduled' });
    expect(row?.at.toISOString()).toBe(at);
    // Booking the same time again is the same callback.
    expect((await post({ at })).status).toBe(200);
    expect(await hub.db.callback.count({ where: { projectId: hub.projectId, phone: '+14155550304' } })).toBe(1);
  });
});

describe('the page in a browser', () => {
  it("shows the contact's card and the script, prefilled from the CRMs, and saves what the agent types", async () => {
    const phone = '+14155550303';
    await seedSqlCrm(phone, 'Grace Hopper', { purpose: 'car', applicationNumber: 'A-77' });
    const token = await pageLink(phone);
    const page = await browser.newPage();
    const failures: string[] = [];
    page.on('pageerror', (error) => failures.push(error.message));
    // The refused save below logs its 422 as a failed resource; anything else logged as an error counts.
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource: the server responded with a status of 422')) failures.push(message.text());
    });
    try {
      const response = await page.goto(`${base}/agent/${token}`);
      expect(response?.status()).toBe(200);
      await page.waitForSelector('#script:not([hidden])');
      expect(await page.textContent('#contact-name')).toBe('Grace Hopper');
      expect(await page.textContent('#contact-phone')).toBe(phone);
      expect(await page.textContent('#script-title')).toBe('Loan application check');
      expect(await page.inputValue('#q-fullName')).toBe('Grace Hopper');
      expect(await page.inputValue('#q-purpose')).toBe('car');

      // A required answer cleared is refused under its question; nothing is stored.
      await page.fill('#q-fullName', '');
      await page.click('#save');
      await page.waitForSelector('#error-fullName:not([hidden])');
      expect(await page.textContent('#error-fullName')).toBe('required');
      expect(await hub.db.agentAnswer.count({ where: { contactPhone: phone } })).toBe(0);

      await page.fill('#q-fullName', 'Grace B. Hopper');
      await page.fill('#q-income', '3100.5');
      await page.selectOption('#q-employed', 'false');
      await page.click('#save');
      await page.waitForSelector('#saved:not([hidden])');
      expect(await page.textContent('#saved')).toMatch(/^Saved 4 answer\(s\) at /);
      expect(await page.isHidden('#error-fullName')).toBe(true);
      const rows = await hub.db.agentAnswer.findMany({ where: { contactPhone: phone }, orderBy: { field: 'asc' } });
      expect(rows.map((row) => [row.field, row.value])).toEqual([
        ['fields.employed', false],
        ['fields.income', 3100.5],
        ['fields.purpose', 'car'],
        ['name', 'Grace B. Hopper'],
      ]);
      // The next view shows what was typed (the screen pop merges the agent's answers).
      await page.reload();
      await page.waitForSelector('#script:not([hidden])');
      expect(await page.textContent('#contact-name')).toBe('Grace B. Hopper');
      expect(failures).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('books a callback at the local time the agent picks', async () => {
    const phone = '+14155550305';
    const token = await pageLink(phone, { callback: { queue: 'front', callerId: '+14155550100' } });
    const page = await browser.newPage({ timezoneId: 'Europe/Berlin' });
    try {
      await page.goto(`${base}/agent/${token}`);
      await page.waitForSelector('#callback:not([hidden])');
      await page.click('#book');
      expect(await page.textContent('#callback-error')).toBe('Choose when to call back.');
      // 1 December the year after next is always more than a year ahead.
      const year = new Date().getUTCFullYear() + 2;
      await page.fill('#callback-at', `${year}-12-01T09:30`);
      await page.fill('#callback-note', 'wants the manager');
      await page.click('#book');
      // More than a year ahead is refused by the callback rules, and the page says why.
      await page.waitForSelector('#callback-error:not([hidden])');
      expect(await page.textContent('#callback-error')).toBe('at: at most a year ahead');
      const soon = new Date(Date.now() + 2 * 86_400_000);
      const local = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Berlin', year: 'numeric', month: '2-digit', day: '2-digit' }).format(soon);
      await page.fill('#callback-at', `${local}T09:30`);
      await page.click('#book');
      await page.waitForSelector('#booked:not([hidden])');
      expect(await page.textContent('#booked')).toMatch(/^Callback booked for .*9:30.* \(queue front\)\.$/);
      const row = await hub.db.callback.findFirst({ where: { projectId: hub.projectId, phone } });
      expect(row).toMatchObject({ agent: 'olga', queue: 'front', note: 'wants the manager' });
      expect(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' }).format(row?.at)).toBe('09:30');
    } finally {
      await page.close();
    }
  });

  it('says so when the link is unknown', async () => {
    const page = await browser.newPage();
    try {
      const response = await page.goto(`${base}/agent/cap_nothing-here`);
      expect(response?.status()).toBe(404);
      await page.waitForSelector('#page[aria-busy="false"]');
      expect(await page.textContent('#status')).toBe('No page behind this link.');
      expect(await page.isHidden('#script')).toBe(true);
    } finally {
      await page.close();
    }
  });
});
