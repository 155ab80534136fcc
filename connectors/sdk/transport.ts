// How a REST connector's request reaches the CRM: node:http(s) over keep-alive
// agents shared by every connector in the process. The CRM client needs only the
// status, the headers and the body as text, so it does without fetch's streams and
// spec machinery, which cost several times this per request on a busy worker.
import http from 'node:http';
import https from 'node:https';

export interface TransportRequest {
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  /** The whole exchange, connect to last byte. */
  timeoutMs: number;
}

export interface TransportResponse {
  status: number;
  statusText: string;
  headers: Headers;
  text: string;
}

/** Fails a request with no answer in time; the client reports it as an outage. */
export class TransportTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** A network failure; `cause` is the socket's error (its `code`: ECONNREFUSED, ECONNRESET...). */
export class TransportNetworkError extends Error {}

const agentOptions = { keepAlive: true, maxSockets: 64, maxFreeSockets: 16 };
const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };

export type Transport = (url: URL, request: TransportRequest) => Promise<TransportResponse>;

export const nodeTransport: Transport = (url, request) =>
  new Promise<TransportResponse>((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const headers: Record<string, string | number> = { ...request.headers };
    if (request.body !== undefined) headers['content-length'] = Buffer.byteLength(request.body);
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outgoing.destroy();
      reject(error);
    };
    const outgoing = (secure ? https : http).request(url, { method: request.method, headers, agent: secure ? agents.https : agents.http }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('error', (error) => fail(new TransportNetworkError(error.message, { cause: error })));
      incoming.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const answerHeaders = new Headers();
        const raw = incoming.rawHeaders;
        for (let index = 0; index + 1 < raw.length; index += 2) answerHeaders.append(raw[index] as string, raw[index + 1] as string);
        resolve({ status: incoming.statusCode ?? 0, statusText: incoming.statusMessage ?? '', headers: answerHeaders, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    const timer = setTimeout(() => fail(new TransportTimeoutError(`no answer within ${request.timeoutMs} ms`)), request.timeoutMs);
    outgoing.on('error', (error) => fail(new TransportNetworkError(error.message, { cause: error })));
    outgoing.end(request.body);
  });
