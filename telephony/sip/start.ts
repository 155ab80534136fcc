/**
 * Starts call control from configuration: a real drachtio-server when DRACHTIO_HOST is set,
 * otherwise the drachtio-server stand-in in this process (the embedded default, like PostgreSQL
 * and Temporal on `npm start`), reached over TCP exactly as a real server would be.
 */
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { DrachtioStandin } from '../standin/standin.js';
import { DrachtioCallControl } from './adapter.js';

export interface RunningCallControl {
  callControl: DrachtioCallControl;
  /** Present when the stand-in was started here. */
  standin: DrachtioStandin | undefined;
  stop(): Promise<void>;
}

type CallControlConfig = Pick<Config, 'DRACHTIO_HOST' | 'DRACHTIO_PORT' | 'DRACHTIO_SECRET' | 'SIP_ADDRESS' | 'SIP_PORT' | 'SIP_MAX_CONCURRENT_CALLS'>;

export async function startCallControl(config: CallControlConfig, logger: Logger): Promise<RunningCallControl> {
  let standin: DrachtioStandin | undefined;
  let host = config.DRACHTIO_HOST;
  let port = config.DRACHTIO_PORT;
  if (!host) {
    standin = new DrachtioStandin({
      controlHost: '127.0.0.1',
      controlPort: 0,
      secret: config.DRACHTIO_SECRET,
      sipAddress: config.SIP_ADDRESS,
      sipPort: config.SIP_PORT,
      logger: logger.child({ component: 'drachtio-standin' }),
    });
    await standin.start();
    host = '127.0.0.1';
    port = standin.controlPort;
  }
  try {
    const callControl = await DrachtioCallControl.connect({
      host,
      port,
      secret: config.DRACHTIO_SECRET,
      maxConcurrentCalls: config.SIP_MAX_CONCURRENT_CALLS,
      logger: logger.child({ component: 'call-control' }),
    });
    return {
      callControl,
      standin,
      async stop() {
        await callControl.close();
        await standin?.stop();
      },
    };
  } catch (error) {
    await standin?.stop();
    throw error;
  }
}
