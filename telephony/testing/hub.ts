/**
 * Call control for tests and benchmarks: the drachtio-srf adapter connected to the drachtio-server
 * named by DRACHTIO_HOST/DRACHTIO_PORT (`npm run test:telephony -- --drachtio host:port`), or to a
 * stand-in started here on a free SIP port.
 */
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { startCallControl, type RunningCallControl } from '../sip/start.js';

export const HOLD_SDP = [
  'v=0',
  'o=hub 1 1 IN IP4 127.0.0.1',
  's=hub',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 40000 RTP/AVP 0',
  'a=rtpmap:0 PCMU/8000',
  'a=sendrecv',
  '',
].join('\r\n');

export async function startTestCallControl(overrides: { maxConcurrentCalls?: number } = {}): Promise<RunningCallControl> {
  const config = loadConfig();
  const logger = createLogger('telephony-test', 'warn');
  return startCallControl(
    {
      ...config,
      SIP_PORT: config.DRACHTIO_HOST ? config.SIP_PORT : 0,
      SIP_MAX_CONCURRENT_CALLS: overrides.maxConcurrentCalls ?? config.SIP_MAX_CONCURRENT_CALLS,
    },
    logger,
  );
}
