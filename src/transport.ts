/**
 * What stands between stdin and the MCP SDK's stdio transport. The SDK closes the whole transport
 * (and the server exits, leaving calls in flight unanswered) when one line exceeds its 10 MiB read
 * buffer, and drops unparsable lines silently. Here each line is checked first: a line over the limit
 * is skipped without being buffered, an unparsable one is dropped, and either is answered with a
 * JSON-RPC error when its `id` can be read from its start, and reported (once per run of repeats) on
 * stderr. Everything else reaches the SDK unchanged, one line at a time, so its buffer never holds
 * more than one line.
 */
import { Transform, type TransformCallback } from 'node:stream';

/** The longest line read (bytes, newline included): the SDK's own read limit. */
export const MAX_LINE_BYTES = 10 * 1024 * 1024;
/** The `id` of a request is looked for in this many first bytes of a line that cannot be used. */
const ID_WINDOW = 512;

export interface LineProblem {
  kind: 'too large' | 'not JSON';
  /** The request's id when it could be read from the line's start (then an error response is due). */
  id?: string | number;
  bytes: number;
}

/**
 * A stream of stdin's bytes to hand to `StdioServerTransport` in place of stdin: complete, parsable
 * lines only. `onProblem` hears of every line that was dropped.
 */
export function lineGuard(onProblem: (problem: LineProblem) => void, maxLineBytes = MAX_LINE_BYTES) {
  let parts: Buffer[] = [];
  let size = 0;
  /** The first bytes of a line being skipped because it is too long. */
  let skipping: Buffer | undefined;

  const endLine = (push: (line: Buffer) => void) => {
    if (skipping) {
      onProblem({ kind: 'too large', id: idOf(skipping), bytes: size });
    } else if (size > 0) {
      const line = parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
      if (isJson(line)) push(line);
      else if (line.toString('utf8').trim() !== '')
        onProblem({ kind: 'not JSON', id: idOf(line.subarray(0, ID_WINDOW)), bytes: size });
    }
    parts = [];
    size = 0;
    skipping = undefined;
  };

  return new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      const push = (line: Buffer) => this.push(Buffer.concat([line, NEWLINE]));
      let at = 0;
      while (at < chunk.length) {
        const nl = chunk.indexOf(10, at);
        const end = nl === -1 ? chunk.length : nl;
        const piece = chunk.subarray(at, end);
        size += piece.length;
        if (!skipping && size + 1 > maxLineBytes) {
          // Keep the head (for the id) and stop buffering: the rest of this line is counted, not kept.
          skipping = Buffer.concat([...parts, piece], Math.min(ID_WINDOW, size));
          parts = [];
        } else if (!skipping) {
          parts.push(piece);
        }
        if (nl === -1) break;
        endLine(push);
        at = nl + 1;
      }
      done();
    },
    flush(done: TransformCallback) {
      // A last line without its newline is not a message yet; the SDK would not read it either.
      done();
    },
  });
}

const NEWLINE = Buffer.from('\n');

function isJson(line: Buffer): boolean {
  try {
    JSON.parse(line.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/** The `id` of a JSON-RPC request, read from the start of a line that could not be used whole. */
function idOf(head: Buffer): string | number | undefined {
  const m =
    /^\s*\{(?:\s*"(?:jsonrpc|method)"\s*:\s*"[^"\\]*"\s*,)*\s*"id"\s*:\s*(-?\d{1,15}|"(?:[^"\\]|\\.){0,200}")/.exec(
      head.toString('utf8'),
    );
  if (!m) return undefined;
  return m[1].startsWith('"') ? (JSON.parse(m[1]) as string) : Number(m[1]);
}

/**
 * Reports repeated problems once with a count: the first of a kind is written at once, the ones
 * that follow within `quietMs` are counted and summed up in one line when they stop.
 */
export function onceWithCount(write: (line: string) => void, quietMs = 1_000) {
  let last: string | undefined;
  let repeats = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (repeats > 0) write(`${last} (repeated ${repeats} more times)`);
    last = undefined;
    repeats = 0;
    timer = undefined;
  };
  const report = (line: string) => {
    if (line === last) {
      repeats++;
    } else {
      flush();
      last = line;
      write(line);
    }
    clearTimeout(timer);
    timer = setTimeout(flush, quietMs);
    // A pending summary never keeps the process alive.
    timer.unref();
  };
  return Object.assign(report, { flush });
}
