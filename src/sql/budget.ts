/**
 * One byte budget for every answer (--sql-max-bytes): the helpers that cut a text or a whole result to
 * it. Sources cut what they know to be long (a PostgreSQL message, a comment, a schema) with a note on
 * what the whole was; the server then walks every result once more and cuts its longest strings, so no
 * answer is over the budget whatever a source forgot (src/server.ts).
 */

/** A byte count as people read it: 3,000,000. */
export function bytesText(n: number): string {
  return n.toLocaleString('en-US');
}

/** The longest start of `text` whose UTF-8 form has at most `maxBytes` bytes, never half a character. */
export function headBytes(text: string, maxBytes: number): string {
  const max = Math.max(0, Math.floor(maxBytes));
  // Every UTF-16 unit is at least one byte: the start that fits lies in the first `max` units.
  let start = text.length > max ? text.slice(0, max) : text;
  // A high surrogate without its pair would encode as three bytes of U+FFFD.
  if (/[\ud800-\udbff]$/.test(start)) start = start.slice(0, -1);
  const buf = Buffer.from(start, 'utf8');
  if (buf.length <= max) return start;
  let end = max;
  // Back to the first byte of the character the cut falls in (continuation bytes are 10xxxxxx).
  while (end > 0 && ((buf[end] as number) & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}

/**
 * `text` if its UTF-8 form fits in `maxBytes`, else its start and a note of the whole's length (and
 * `how` to get the rest, when there is a way), the whole within `maxBytes`.
 */
export function cutText(text: string, maxBytes: number, how?: string): string {
  if (text.length * 3 <= maxBytes) return text;
  const total = Buffer.byteLength(text);
  if (total <= maxBytes) return text;
  const note = `… [cut: ${bytesText(total)} bytes in all${how ? `; ${how}` : ''}]`;
  return headBytes(text, maxBytes - Buffer.byteLength(note)) + note;
}

/** Bytes of `value` as JSON. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}

/** Below this, a string is not worth cutting further: its note alone is about as long. */
const SHORTEST_CUT = 80;

/**
 * `value` (plain JSON data: objects, arrays, strings, numbers) whose JSON has at most `maxBytes` bytes:
 * as it is when it fits, else with its longest strings cut to a common length, each with a note of
 * its whole length. Keys, numbers and the shape stay (a field a schema requires is still there, cut,
 * not dropped), and symbol keys are kept. Undefined when cutting strings cannot make it fit (too many
 * keys and numbers): the caller says so instead of answering.
 */
export function boundValue<T>(value: T, maxBytes: number, how?: string): T | undefined {
  const size = jsonBytes(value);
  if (size <= maxBytes) return value;
  const sizes: number[] = [];
  walk(value, (s) => {
    sizes.push(jsonBytes(s));
    return s;
  });
  // The JSON of the strings that need cutting is what must shrink; find the largest common length
  // for them that brings the whole under the budget (notes included in that length).
  let target = maxBytes;
  for (let attempt = 0; attempt < 4; attempt++) {
    const cap = largestCap(sizes, size - target);
    if (cap === undefined) return undefined;
    const cut = walk(value, (s) => {
      const json = jsonBytes(s);
      return json > cap ? cutJson(s, cap, how) : s;
    }) as T;
    const now = jsonBytes(cut);
    if (now <= maxBytes) return cut;
    // Escapes made a cut string's JSON longer than its bytes: aim lower by what is still over.
    target -= now - maxBytes;
  }
  return undefined;
}

/** The largest length to cut every longer string to so that `over` bytes go, if one exists. */
function largestCap(sizes: number[], over: number): number | undefined {
  if (over <= 0) return Number.POSITIVE_INFINITY;
  const desc = [...sizes].sort((a, b) => b - a);
  let saved = 0;
  for (let k = 0; k < desc.length; k++) {
    const next = desc[k + 1] ?? 0;
    // Cutting the k+1 longest down to `next` saves this much more.
    const more = (k + 1) * ((desc[k] as number) - next);
    if (saved + more >= over) {
      // Cut the k+1 longest to the length that saves exactly `over`.
      const cap = Math.floor((desc[k] as number) - (over - saved) / (k + 1));
      return cap >= SHORTEST_CUT ? cap : undefined;
    }
    saved += more;
  }
  return undefined;
}

/** `s` cut so that its JSON (quotes and escapes included) has at most `cap` bytes. */
function cutJson(s: string, cap: number, how?: string): string {
  const note = `… [cut: ${bytesText(Buffer.byteLength(s))} bytes in all${how ? `; ${how}` : ''}]`;
  let keep = cap - Buffer.byteLength(note) - 2;
  for (;;) {
    const cut = headBytes(s, Math.max(0, keep)) + note;
    const size = jsonBytes(cut);
    if (size <= cap || keep <= 0) return cut;
    keep -= size - cap;
  }
}

/** `value` with each string (not keys) replaced by `f` of it; objects copied only where one changed. */
export function walk(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') return f(value);
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const w = walk(v, f);
      if (w !== v) changed = true;
      return w;
    });
    return changed ? out : value;
  }
  if (value !== null && typeof value === 'object' && isPlain(value)) {
    let out: Record<string | symbol, unknown> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const w = walk(v, f);
      if (w !== v) {
        // The spread keeps symbol keys (a result's fence, src/sql/untrusted.ts).
        out ??= { ...(value as Record<string | symbol, unknown>) };
        out[k] = w;
      }
    }
    return out ?? value;
  }
  return value;
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `text` within `maxBytes`, its start and its end kept (an error's head says what failed, its last
 * line what to do) and a note of the whole's length between them.
 */
export function cutMiddle(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const total = Buffer.byteLength(text);
  if (total <= maxBytes) return text;
  const note = `\n… [cut: ${bytesText(total)} bytes in all; answers are limited to ${bytesText(maxBytes)} bytes, --sql-max-bytes] …\n`;
  const room = Math.max(0, maxBytes - Buffer.byteLength(note));
  const tail = tailBytes(text, Math.min(1_000, Math.floor(room / 4)));
  return headBytes(text, room - Buffer.byteLength(tail)) + note + tail;
}

/** The longest end of `text` whose UTF-8 form has at most `maxBytes` bytes, never half a character. */
function tailBytes(text: string, maxBytes: number): string {
  const max = Math.max(0, Math.floor(maxBytes));
  let end = text.length > max ? text.slice(text.length - max) : text;
  // A low surrogate without its pair.
  if (/^[\udc00-\udfff]/.test(end)) end = end.slice(1);
  const buf = Buffer.from(end, 'utf8');
  if (buf.length <= max) return end;
  let start = buf.length - max;
  while (start < buf.length && ((buf[start] as number) & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString('utf8');
}
