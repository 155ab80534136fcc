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
