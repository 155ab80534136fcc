import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.js';
import { findFreePort } from '../../embedded/ports.js';
import { DrachtioStandin } from '../standin/standin.js';
import { DrachtioCallControl } from './adapter.js';

const logger = createLogger('connect-test', 'silent');
let standin: DrachtioStandin;

beforeAll(async () => {
  standin = new DrachtioStandin({ controlHost: '127.0.0.1', controlPort: 0, secret: 'right', sipAddress: '127.0.0.1', sipPort: 0 });
  await standin.start();
});

afterAll(async () => {
  await standin?.stop();
});

describe('connecting to drachtio-server', () => {
  it('learns the server SIP address from the authenticate answer', async () => {
    const callControl = await DrachtioCallControl.connect({ host: '127.0.0.1', port: standin.controlPort, secret: 'right', maxConcurrentCalls: 10, logger });
    try {
      expect(callControl.sipAddress).toEqual({ address: '127.0.0.1', port: standin.sipPort });
    } finally {
      await callControl.close();
    }
  });

  it('fails with a clear error for a wrong secret, and for nobody listening', async () => {
    await expect(DrachtioCallControl.connect({ host: '127.0.0.1', port: standin.controlPort, secret: 'wrong', maxConcurrentCalls: 10, logger }))
      .rejects.toThrow(/authenticate/);
    const closedPort = await findFreePort();
    await expect(DrachtioCallControl.connect({ host: '127.0.0.1', port: closedPort, secret: 'right', maxConcurrentCalls: 10, logger, connectTimeoutMs: 500 }))
      .rejects.toThrow(/no drachtio-server answered/);
    expect(standin.stats.connectedClients).toBe(0);
  });
});
