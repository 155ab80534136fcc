/**
 * TEST DOUBLE - not rtpengine. A scripted MediaControl for IVR unit tests: each playAndCollect
 * takes the next scripted answer (digits, or silence that times out); every prompt played is
 * recorded. `onPrompt` lets a test move a fake clock as if the prompt took time to play.
 */
import type { CallLeg, MediaControl, OutboundMediaOffer } from '../call-control.js';

export type CallerInput = { digits: string } | { silence: true } | { hangup: true };

export class FakeMediaControl implements MediaControl {
  readonly played: string[] = [];
  onPrompt: ((wavPath: string) => void) | undefined;

  constructor(private readonly inputs: CallerInput[] = []) {}

  async anchor(_leg: CallLeg, remoteSdp: string): Promise<string> {
    return remoteSdp;
  }

  async offerOutbound(): Promise<OutboundMediaOffer> {
    return { sdp: 'v=0\r\nm=audio 9 RTP/AVP 0\r\n', answered: async () => undefined, cancel: async () => undefined };
  }

  async play(_leg: CallLeg, wavPath: string): Promise<void> {
    this.played.push(wavPath);
    this.onPrompt?.(wavPath);
  }

  async playAndCollect(leg: CallLeg, options: { wavPath: string; maxDigits: number; timeoutMs: number }): Promise<{ digits: string; timedOut: boolean }> {
    this.played.push(options.wavPath);
    this.onPrompt?.(options.wavPath);
    const input = this.inputs.shift() ?? { silence: true };
    if ('hangup' in input) {
      if ('remoteHangup' in leg && typeof leg.remoteHangup === 'function') (leg.remoteHangup as () => void)();
      return new Promise(() => undefined); // the caller is gone; nothing more will be collected
    }
    if ('silence' in input) return { digits: '', timedOut: true };
    return { digits: input.digits.slice(0, options.maxDigits), timedOut: false };
  }

  async release(): Promise<void> {}
}
