/**
 * Media for the telephony process's IVRs: the rtpengine named by RTPENGINE_NG, else a private
 * rtpengine when the binary is installed (the embedded default), plus the prompts rendered with
 * espeak-ng + sox. Without rtpengine or without prompts the process still runs: queue numbers work,
 * IVR numbers are refused with 503 and an X-Reason saying why, and the startup output says so.
 */
import type { Config } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import { findExecutable } from '../../embedded/supervised-server.js';
import { startEmbeddedMedia } from '../media/embedded-media.js';
import { buildPrompts, loadPromptCatalog, promptFile } from '../media/prompts.js';
import { RtpengineMediaControl } from '../media/rtpengine-media.js';

export type TelephonyMedia =
  | { available: true; control: RtpengineMediaControl; promptPath: (prompt: string) => string; description: string; stop(): Promise<void> }
  | { available: false; reason: string; stop(): Promise<void> };

function hostPort(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  return { host: value.slice(0, at), port: Number(value.slice(at + 1)) };
}

export async function startTelephonyMedia(config: Pick<Config, 'RTPENGINE_NG' | 'RTPENGINE_DTMF_LISTEN'>, logger: Logger, logFile?: string): Promise<TelephonyMedia> {
  let control: RtpengineMediaControl;
  let stopMedia: () => Promise<void>;
  let description: string;
  if (config.RTPENGINE_NG) {
    control = await RtpengineMediaControl.create({ ng: hostPort(config.RTPENGINE_NG), listen: hostPort(config.RTPENGINE_DTMF_LISTEN), logger });
    stopMedia = () => control.close();
    description = `rtpengine at ${config.RTPENGINE_NG}`;
  } else {
    if ((await findExecutable('rtpengine')) === undefined) {
      return { available: false, reason: 'rtpengine is not installed (apt-get install rtpengine-daemon) and RTPENGINE_NG is not set', stop: async () => undefined };
    }
    try {
      const embedded = await startEmbeddedMedia({ logger, ...(logFile ? { logFile } : {}) });
      control = embedded.media;
      stopMedia = () => embedded.stop();
      description = `embedded rtpengine (ng ${embedded.rtpengine.ng.host}:${embedded.rtpengine.ng.port})`;
    } catch (error) {
      return { available: false, reason: `rtpengine did not start: ${error instanceof Error ? error.message : String(error)}`, stop: async () => undefined };
    }
  }
  try {
    const catalog = await loadPromptCatalog();
    const report = await buildPrompts(catalog);
    logger.info({ dir: report.dir, built: report.built.length, upToDate: report.upToDate.length }, 'telephony: IVR prompts ready');
    return { available: true, control, promptPath: (prompt) => promptFile(catalog, prompt), description, stop: stopMedia };
  } catch (error) {
    await stopMedia();
    return { available: false, reason: `IVR prompts could not be rendered (espeak-ng and sox are needed): ${error instanceof Error ? error.message : String(error)}`, stop: async () => undefined };
  }
}
