// Types for the parts of rtpengine-client (CommonJS, untyped) that the media control uses.
declare module 'rtpengine-client' {
  import { EventEmitter } from 'node:events';

  export interface NgDestination {
    port: number;
    host: string;
  }

  /** ng replies are bencoded dictionaries; values are strings, numbers, lists or dictionaries. */
  export type NgReply = Record<string, unknown> & { result?: string; 'error-reason'?: string };

  type NgCommand = (destination: NgDestination, parameters?: Record<string, unknown>) => Promise<NgReply>;

  export class Client extends EventEmitter {
    constructor(options?: { localPort?: number; localAddress?: string; timeout?: number });
    ping: NgCommand;
    offer: NgCommand;
    answer: NgCommand;
    delete: NgCommand;
    query: NgCommand;
    playMedia: NgCommand;
    stopMedia: NgCommand;
    blockMedia: NgCommand;
    close(): void;
  }

  const rtpengine: { Client: typeof Client };
  export default rtpengine;
}
