// Every workflow the worker registers. Workflow code only: the worker bundles this file.
export { contactJourney } from './journey/workflows.js';
export { crmContactResolver, resolveCrmContact } from './crm-changes/workflows.js';
export { crmPoller } from './crm-polling/workflows.js';
export { noopJourney } from './bench/workflows.js';
export { callAndAsk, callContact } from './calls/workflows.js';
export { campaignDialer, dialAttempt } from './campaigns/workflows.js';
export { callback } from './callbacks/workflows.js';
