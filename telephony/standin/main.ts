/**
 * Runs the drachtio-server stand-in (a TEST STAND-IN, see standin.ts) as its own process, the way
 * drachtio-server itself runs, for tools and manual testing:
 *   npx tsx telephony/standin/main.ts [--port 9022] [--secret cymru] [--sip 127.0.0.1:5060]
 * then point the hub or `npm run test:telephony -- --drachtio 127.0.0.1:9022` at it.
 */
import { createLogger } from '../../core/logger.js';
import { DrachtioStandin } from './standin.js';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : (process.argv[index + 1] ?? fallback);
}

const [sipAddress = '127.0.0.1', sipPort = '5060'] = option('sip', '127.0.0.1:5060').split(':');
const standin = new DrachtioStandin({
  controlHost: '127.0.0.1',
  controlPort: Number(option('port', '9022')),
  secret: option('secret', 'cymru'),
  sipAddress,
  sipPort: Number(sipPort),
  logger: createLogger('drachtio-standin', option('loglevel', 'info')),
});
await standin.start();
console.log(`drachtio-server stand-in: control 127.0.0.1:${standin.controlPort}, SIP udp/${standin.sipAddress}:${standin.sipPort}`);
const stop = (): void => void standin.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
