// The agent page's script (served as is, no build step): reads the link's token from the address,
// shows the contact's card and the call script, and saves the answers. CRM data is put on the page
// as text only, never as markup.
'use strict';

(function agentPage() {
  const token = decodeURIComponent(location.pathname.split('/')[2] || '');
  const byId = (id) => document.getElementById(id);
  const element = (tag, text, className) => {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  };

  function showStatus(text) {
    byId('status').textContent = text;
    byId('status').hidden = false;
    byId('page').setAttribute('aria-busy', 'false');
  }

  async function problemText(response) {
    try {
      const problem = await response.json();
      return problem.detail || problem.title || `HTTP ${response.status}`;
    } catch {
      return `HTTP ${response.status}`;
    }
  }

  function cardValue(card, field) {
    if (field === 'name') return card.contact.name;
    if (field === 'email') return card.contact.email;
    if (field.startsWith('fields.')) return card.contact.fields[field.slice('fields.'.length)];
    return undefined;
  }

  function renderCard(view) {
    const { card } = view;
    byId('contact-name').textContent = card.contact.name || 'Unknown contact';
    byId('contact-phone').textContent = card.phone;
    const details = byId('contact-details');
    const detail = (label, value) => {
      if (value === undefined || value === null || value === '') return;
      details.append(element('dt', label), element('dd', typeof value === 'object' ? JSON.stringify(value) : value));
    };
    detail('E-mail', card.contact.email);
    detail('Responsible agent', card.contact.responsibleAgent);
    for (const [key, value] of Object.entries(card.contact.fields)) detail(key, value);
    const applications = byId('applications');
    if (card.applications.length === 0) applications.append(element('li', 'None'));
    for (const application of card.applications) {
      applications.append(element('li', `${application.number}: ${application.status || 'no status'}${application.open ? '' : ' (closed)'}`));
    }
    if (!card.found) {
      byId('card-note').textContent = 'No CRM knows this number yet.';
      byId('card-note').hidden = false;
    } else if (card.partial) {
      byId('card-note').textContent = 'Some CRMs did not answer in time: the card may be incomplete.';
      byId('card-note').hidden = false;
    }
    byId('card').hidden = false;
  }

  function inputFor(question, value) {
    let input;
    if (question.kind === 'yes-no' || question.kind === 'choice') {
      input = document.createElement('select');
      const choices = question.kind === 'yes-no' ? [['', '-'], ['true', 'Yes'], ['false', 'No']] : [['', '-'], ...question.options.map((option) => [option, option])];
      for (const [optionValue, label] of choices) {
        const option = element('option', label);
        option.value = optionValue;
        input.append(option);
      }
      if (value !== undefined && value !== null) input.value = String(value);
    } else {
      input = document.createElement('input');
      input.type = question.kind === 'number' ? 'number' : 'text';
      if (question.kind === 'number') input.step = 'any';
      if (value !== undefined && value !== null && typeof value !== 'object') input.value = String(value);
    }
    input.id = `q-${question.id}`;
    input.name = question.id;
    if (question.required) input.required = true;
    return input;
  }

  function answerOf(question, input) {
    const raw = input.value.trim();
    if (raw === '') return undefined;
    if (question.kind === 'number') return Number(raw);
    if (question.kind === 'yes-no') return raw === 'true';
    return raw;
  }

  function renderScript(view) {
    const { script, card } = view;
    byId('script-title').textContent = script.title;
    byId('script-intro').textContent = script.intro || '';
    byId('script-intro').hidden = !script.intro;
    const list = byId('questions');
    const inputs = new Map();
    for (const question of script.questions) {
      const item = element('li', undefined, 'question');
      item.dataset.question = question.id;
      const label = element('label', question.prompt + (question.required ? ' *' : ''));
      label.htmlFor = `q-${question.id}`;
      const input = inputFor(question, cardValue(card, question.field));
      const error = element('p', '', 'error');
      error.hidden = true;
      error.id = `error-${question.id}`;
      item.append(label, input, error);
      list.append(item);
      inputs.set(question.id, { question, input, item, error });
    }
    // Branches: a question with showIf is shown while its earlier question holds that answer.
    const refresh = () => {
      const asked = new Set();
      for (const [id, { question, item }] of inputs) {
        const condition = question.showIf;
        const shown = !condition || (asked.has(condition.question) && answerOf(inputs.get(condition.question).question, inputs.get(condition.question).input) === condition.equals);
        if (shown) asked.add(id);
        item.hidden = !shown;
      }
    };
    for (const { input } of inputs.values()) {
      input.addEventListener('input', refresh);
      input.addEventListener('change', refresh);
    }
    refresh();
    const form = byId('script');
    form.hidden = false;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void save(inputs);
    });
  }

  function clearErrors(inputs) {
    for (const { item, error } of inputs.values()) {
      item.classList.remove('invalid');
      error.hidden = true;
    }
    byId('form-error').hidden = true;
  }

  async function save(inputs) {
    clearErrors(inputs);
    byId('saved').hidden = true;
    const answers = {};
    for (const [id, { question, input, item }] of inputs) {
      if (item.hidden) continue;
      const value = answerOf(question, input);
      if (value !== undefined) answers[id] = value;
    }
    byId('save').disabled = true;
    try {
      const response = await fetch(`/agent/${encodeURIComponent(token)}/answers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ answers }),
      });
      if (response.status === 202) {
        const result = await response.json();
        byId('saved').textContent = `Saved ${result.saved.length} answer(s) at ${new Date(result.answeredAt).toLocaleTimeString()}.`;
        byId('saved').hidden = false;
        return;
      }
      const problem = await response.json().catch(() => ({}));
      const unplaced = [];
      for (const entry of problem.errors || []) {
        const target = entry.field.startsWith('answers.') ? inputs.get(entry.field.slice('answers.'.length)) : undefined;
        if (target) {
          target.item.classList.add('invalid');
          target.error.textContent = entry.message;
          target.error.hidden = false;
        } else {
          unplaced.push(entry.field === 'answers' ? entry.message : `${entry.field}: ${entry.message}`);
        }
      }
      if (unplaced.length > 0 || !problem.errors) {
        byId('form-error').textContent = unplaced.length > 0 ? unplaced.join('; ') : problem.detail || `Not saved (HTTP ${response.status}).`;
        byId('form-error').hidden = false;
      }
    } catch (error) {
      byId('form-error').textContent = `Not saved: ${error instanceof Error ? error.message : String(error)}. Try again.`;
      byId('form-error').hidden = false;
    } finally {
      byId('save').disabled = false;
    }
  }

  function renderCallback(view) {
    if (!view.callback) return;
    const form = byId('callback');
    form.hidden = false;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void book(view.callback.queue);
    });
  }

  async function book(queue) {
    const error = byId('callback-error');
    error.hidden = true;
    byId('booked').hidden = true;
    const when = byId('callback-at').value;
    if (!when) {
      error.textContent = 'Choose when to call back.';
      error.hidden = false;
      return;
    }
    // The agent's clock reads the local date and time; the hub takes an instant.
    const body = { at: new Date(when).toISOString() };
    const note = byId('callback-note').value.trim();
    if (note) body.note = note;
    byId('book').disabled = true;
    try {
      const response = await fetch(`/agent/${encodeURIComponent(token)}/callback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const result = await response.json().catch(() => ({}));
      if (response.status === 201 || response.status === 200) {
        byId('booked').textContent = `Callback booked for ${new Date(result.at).toLocaleString()} (queue ${queue}).`;
        byId('booked').hidden = false;
        return;
      }
      error.textContent = (result.errors || []).map((entry) => `${entry.field}: ${entry.message}`).join('; ') || result.detail || `Not booked (HTTP ${response.status}).`;
      error.hidden = false;
    } catch (failure) {
      error.textContent = `Not booked: ${failure instanceof Error ? failure.message : String(failure)}. Try again.`;
      error.hidden = false;
    } finally {
      byId('book').disabled = false;
    }
  }

  async function load() {
    let response;
    try {
      response = await fetch(`/agent/${encodeURIComponent(token)}/view`);
    } catch (error) {
      showStatus(`The hub cannot be reached: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (!response.ok) {
      showStatus(await problemText(response));
      return;
    }
    const view = await response.json();
    document.title = view.card.contact.name || view.phone;
    renderCard(view);
    renderScript(view);
    renderCallback(view);
    byId('status').hidden = true;
    byId('page').setAttribute('aria-busy', 'false');
  }

  document.addEventListener('DOMContentLoaded', () => void load());
})();
