// rtpengine and the media control started together on loopback, wired to each
// other: what tests and `npm start` use when no rtpengine is configured.
import { findFreeUdpPort, startEmbeddedRtpengine, type EmbeddedRtpengine, type EmbeddedRtpengineOptions } from '../../embedded/rtpengine.js';
import type { Logger } from '../../core/logger.js';
import { RtpengineMediaControl } from './rtpengine-media.js';

export interface EmbeddedMedia {
  media: RtpengineMediaControl;
  rtpengine: EmbeddedRtpengine;
  /** Releases every leg, closes the media control, stops rtpengine. */
  stop(): Promise<void>;
}

export async function startEmbeddedMedia(
  options: Pick<EmbeddedRtpengineOptions, 'logFile' | 'logLevel' | 'rtpPorts'> & { logger?: Logger } = {},
): Promise<EmbeddedMedia> {
  const host = '127.0.0.1';
  // rtpengine takes the DTMF log destination at start, so the port is chosen first and bound by the media control after.
  const dtmfLogPort = await findFreeUdpPort(host);
  const rtpengine = await startEmbeddedRtpengine({ ...options, dtmfLogDestination: { host, port: dtmfLogPort } });
  let media: RtpengineMediaControl;
  try {
    media = await RtpengineMediaControl.create({ ng: rtpengine.ng, listen: { host, port: dtmfLogPort }, logger: options.logger });
  } catch (error) {
    await rtpengine.stop();
    throw error;
  }
  return {
    media,
    rtpengine,
    stop: async () => {
      try {
        await media.close();
      } finally {
        await rtpengine.stop();
      }
    },
  };
}
