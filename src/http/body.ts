/**
 * Reading an MCP request's body with its bounds checked as it arrives, before anything parses it:
 * its size (--http-max-body) and how deeply its JSON nests. JSON.parse of a body nested millions of
 * levels deep blocks the event loop for seconds (4 MB of `[` took 2.9 s), and with it every other
 * caller and `/healthz`; the scan below costs a pass over the bytes, chunk by chunk, and stops
 * reading at the first byte too deep or too many.
 */
import type { IncomingMessage } from 'node:http';

/** Nesting deeper than this is refused; MCP messages need a handful of levels, tool arguments a few more. */
export const MAX_JSON_DEPTH = 64;

/** A body refused before parsing: the HTTP status and the JSON-RPC error to answer with. */
interface Refusal {
  status: 400 | 413;
  code: number;
  message: string;
}

/**
 * Counts the nesting of JSON text as it streams by: brackets outside strings. Works on UTF-8 bytes
 * as they come (a multi-byte character never contains an ASCII byte), so chunks need no decoding.
 * It does not validate the JSON (JSON.parse does, once the depth is known to be small).
 */
export class DepthScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(readonly max: number) {}

  /** Scans the next bytes; false once the nesting went deeper than `max`. */
  push(chunk: Uint8Array): boolean {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) this.inString = false;
      } else if (byte === QUOTE) this.inString = true;
      else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
        if (++this.depth > this.max) return false;
      } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) this.depth--;
    }
    return true;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/**
 * The body of a request, or why it is refused. A refusal comes as soon as the offending byte arrives;
 * the rest of the body is then read and dropped (up to the size limit, after which the connection
 * is destroyed), so that the client, still sending, reads the answer rather than a reset.
 */
export function readBody(
  req: IncomingMessage,
  limits: { maxBytes: number; maxDepth: number },
): Promise<{ body: Buffer } | { refused: Refusal }> {
  return new Promise((resolve, reject) => {
    const announced = Number(req.headers['content-length']);
    if (announced > limits.maxBytes) return resolve({ refused: tooLarge(limits.maxBytes) });
    const scanner = new DepthScanner(limits.maxDepth);
    const chunks: Buffer[] = [];
    let received = 0;
    let refused = false;
    const refuse = (refusal: Refusal) => {
      refused = true;
      chunks.length = 0;
      resolve({ refused: refusal });
    };
    req.on('data', (chunk: Buffer) => {
      received += chunk.byteLength;
      if (refused) {
        if (received > limits.maxBytes) req.destroy();
        return;
      }
      if (received > limits.maxBytes) return refuse(tooLarge(limits.maxBytes));
      if (!scanner.push(chunk))
        return refuse({
          status: 400,
          code: -32600,
          message:
            `Invalid request: its JSON nests deeper than ${limits.maxDepth} levels, which neon-mcp refuses ` +
            'before parsing. Send the arguments with less nesting.',
        });
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) resolve({ body: Buffer.concat(chunks) });
    });
    req.on('error', (error) => {
      if (!refused) reject(error);
    });
  });
}

function tooLarge(maxBytes: number): Refusal {
  return {
    status: 413,
    code: -32000,
    message: `Request body too large: neon-mcp reads at most ${maxBytes} bytes (--http-max-body).`,
  };
}
