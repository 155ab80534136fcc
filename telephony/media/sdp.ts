// SDP for the hub's own side of an anchored leg. rtpengine relays media between
// two parties; an IVR leg has only one, so the hub answers rtpengine's offer
// itself and points the far side at a local sink that discards what it gets.

const DIRECTION_ANSWERS: Readonly<Record<string, string>> = {
  'a=sendrecv': 'a=sendrecv',
  'a=sendonly': 'a=recvonly',
  'a=recvonly': 'a=sendonly',
  'a=inactive': 'a=inactive',
};

/** Attributes about rtpengine's own transport (its RTCP port, ICE, DTLS, SDES keys) that the sink does not have. */
const TRANSPORT_ATTRIBUTES = /^a=(rtcp|rtcp-mux|candidate|end-of-candidates|ice-[a-z]+|fingerprint|setup|crypto|mid|ssrc[a-z-]*|msid[a-z-]*|group):?/;

/**
 * Answers rtpengine's offer for the hub side: the first audio stream gets the
 * sink's address and port, with the offered formats kept so that rtpengine
 * plays prompts in the caller's own codec; any other stream is declined
 * (port 0), as RFC 3264 requires an answer to have one m-line per offered one.
 */
export function answerOfferWithSink(offerSdp: string, sink: { host: string; port: number }): string {
  const lines = offerSdp.split(/\r?\n/).filter((line) => line !== '');
  if (!lines[0]?.startsWith('v=')) throw new Error('rtpengine returned an SDP offer that does not start with v=');
  const answer: string[] = [];
  let audioTaken = false;
  for (const line of lines) {
    if (line.startsWith('m=')) {
      const [media, , ...rest] = line.slice(2).split(' ');
      const accept: boolean = media === 'audio' && !audioTaken;
      audioTaken ||= accept;
      answer.push(`m=${String(media)} ${accept ? sink.port : 0} ${rest.join(' ')}`);
    } else if (line.startsWith('c=')) {
      answer.push(`c=IN IP4 ${sink.host}`);
    } else if (line.startsWith('o=')) {
      answer.push(`o=contact-hub 1 1 IN IP4 ${sink.host}`);
    } else if (DIRECTION_ANSWERS[line] !== undefined) {
      answer.push(DIRECTION_ANSWERS[line]);
    } else if (!TRANSPORT_ATTRIBUTES.test(line)) {
      answer.push(line);
    }
  }
  if (!audioTaken) throw new Error('The caller offered no audio stream');
  return `${answer.join('\r\n')}\r\n`;
}

/**
 * The hub's own offer for a leg it originates: one audio stream towards the local sink, in the
 * G.711 codecs every carrier takes plus telephone-event (so the callee's key presses arrive as
 * RFC 2833 events rtpengine can detect). rtpengine replaces address and port with its own before
 * the offer goes out in the INVITE.
 */
export function sinkOffer(sink: { host: string; port: number }): string {
  return [
    'v=0',
    `o=contact-hub 1 1 IN IP4 ${sink.host}`,
    's=contact-hub',
    `c=IN IP4 ${sink.host}`,
    't=0 0',
    `m=audio ${sink.port} RTP/AVP 0 8 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=ptime:20',
    'a=sendrecv',
    '',
  ].join('\r\n');
}

/** Whether an SDP has an audio stream that is not declined (port 0). */
export function hasActiveAudio(sdp: string): boolean {
  return /^m=audio [1-9]\d*/m.test(sdp);
}
