import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { isProcessAlive } from './processes.js';
import { pingNg, startEmbeddedRtpengine, type EmbeddedRtpengine } from './rtpengine.js';

const started: EmbeddedRtpengine[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.stop()));
});

describe('startEmbeddedRtpengine', () => {
  it('starts a user-space rtpengine that answers ng ping, and stops it', async () => {
    const rtpengine = await startEmbeddedRtpengine();
    started.push(rtpengine);
    expect(await pingNg(rtpengine.ng, 1_000)).toBe('pong');
    await rtpengine.stop();
    expect(isProcessAlive(rtpengine.pid)).toBe(false);
    expect(await pingNg(rtpengine.ng, 300)).not.toBe('pong');
    await rtpengine.stop(); // idempotent
  });

  it('refuses an ng port that is already taken instead of talking to the other owner', async () => {
    const squatter = createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind(0, '127.0.0.1', () => resolve()));
    try {
      await expect(startEmbeddedRtpengine({ ngPort: squatter.address().port })).rejects.toThrow(/already in use/);
    } finally {
      squatter.close();
    }
  });

  it('reports rtpengine\'s own words when it cannot start', async () => {
    await expect(startEmbeddedRtpengine({ interfaceAddress: 'not-an-address!' })).rejects.toThrow(/rtpengine exited[\s\S]*Invalid interface/);
  });
});
