// Requests Node's HTTP parser refuses before the app sees them: an unknown method, a request
// line or headers past the server's limit (16 KB), bytes that are not HTTP. Node answers these
// itself with a bare status line and no body; the hub answers them as problem+json like every
// other error, then closes the connection (the parser cannot find where the next request starts).
import type { Socket } from 'node:net';

interface ParserError extends Error {
  code?: string;
}

const answers: Record<string, { status: number; reason: string; title: string; detail: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    reason: 'Request Header Fields Too Large',
    title: 'Request header fields too large',
    detail: 'The request line and headers may hold at most 16 KB.',
  },
  HPE_INVALID_METHOD: {
    status: 501,
    reason: 'Not Implemented',
    title: 'Method not implemented',
    detail: 'The hub takes GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS.',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    reason: 'Request Timeout',
    title: 'Request timeout',
    detail: 'The request was not received in time.',
  },
};

const badRequest = { status: 400, reason: 'Bad Request', title: 'Malformed HTTP request', detail: 'The request is not valid HTTP/1.1.' };

/** The raw HTTP response for a parser error: status line, headers, a problem+json body. */
export function clientErrorResponse(error: ParserError): string {
  const answer = (error.code ? answers[error.code] : undefined) ?? badRequest;
  const body = JSON.stringify({
    type: `https://contact-hub.dev/problems/${answer.title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`,
    title: answer.title,
    status: answer.status,
    detail: answer.detail,
  });
  return [
    `HTTP/1.1 ${answer.status} ${answer.reason}`,
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** Answers the server's parser errors as problem+json instead of Node's empty responses. */
export function answerClientErrors(server: { on(event: 'clientError', listener: (error: ParserError, socket: Socket) => void): unknown }): void {
  server.on('clientError', (error, socket) => {
    // A peer that reset the connection, or one already answered, hears nothing more.
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(clientErrorResponse(error));
  });
}
