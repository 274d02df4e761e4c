/**
 * Redaction of secrets in text that leaves the process (error messages, logs). Lives in src/client
 * because the client must redact an error body before it shortens it (a cut can split a secret so
 * that no later pass recognises it); src/log.ts builds on the same function.
 */

/** What replaces a secret. */
export const REDACTED = '[redacted]';

/**
 * Passwords inside connection URIs (`postgres://user:password@host`, also `postgresql://`, and any
 * `scheme://user:password@`): the user stays (it helps debugging), the password goes.
 */
const URI_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@"'<>]*:)[^\s@/"'<>]+@/gi;

/**
 * The forms in which a secret can appear inside base64 text: standard and URL-safe, at each of the
 * three byte alignments it can have inside a longer encoded text (e.g. `user:key` in a Basic header).
 * Only the characters determined by the secret's own bytes are kept, so each form matches wherever
 * the secret sits in the encoded text.
 */
export function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms = new Set<string>();
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const start = Math.ceil((offset * 8) / 6);
    const end = Math.floor(((offset + bytes.length) * 8) / 6);
    const core = encoded.slice(start, end);
    // Too short a fragment would match unrelated text; a real key gives 40+ characters.
    if (core.length < 12) continue;
    forms.add(core);
    forms.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...forms];
}

/**
 * The forms in which a secret can appear in text that was escaped on its way: as it is, inside a JSON
 * string (once, or twice when a JSON text was put in a JSON string, e.g. an error body in a message;
 * with characters outside ASCII as `\uXXXX` too), percent-encoded in a URI, and with `'` doubled as
 * in an SQL literal. A password with `"` appears in a serialized answer as `\"`, so the verbatim form
 * alone would miss it there.
 */
function escapedForms(secret: string): string[] {
  const json = (s: string) => JSON.stringify(s).slice(1, -1);
  const ascii = (s: string) =>
    s.replace(/[^ -~\t\n\r]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const forms = [
    secret,
    json(secret),
    json(json(secret)),
    ascii(json(secret)),
    ascii(json(secret)).replace(/\\u([0-9a-f]{4})/g, (_, h: string) => `\\u${h.toUpperCase()}`),
    // As untrusted text is written in errors and fenced data (src/sql/untrusted.ts): `<`, C1 controls
    // and line separators escaped too.
    json(secret).replace(
      /[<\u007f-\u009f\u2028\u2029]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    ),
    // Untrusted text as errors write it (inline in src/sql/untrusted.ts, which this layer cannot
    // import): `\`, line breaks, controls and `<` escaped, `"` left as it is.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes.
    secret.replace(/[\\<\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g, (c) =>
      c === '\\'
        ? '\\\\'
        : c === '\n'
          ? '\\n'
          : c === '\r'
            ? '\\r'
            : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    ),
    encodeURIComponent(secret),
    encodeURI(secret),
    secret.replace(/'/g, "''"),
  ];
  return [...new Set(forms)];
}

/**
 * Returns a function that replaces every secret (verbatim, in its escaped forms or base64-encoded) and, unless
 * `uriPasswords` is false, every password in a connection URI with `[redacted]`. Secrets shorter than
 * 4 characters are ignored (they would match everywhere). Tool results that exist to hand out a
 * connection string are redacted with `uriPasswords: false`; errors and logs never carry one.
 */
export function redactor(
  secrets: readonly string[],
  { uriPasswords = true }: { uriPasswords?: boolean } = {},
): (text: string) => string {
  const list = secrets.filter((s) => s.length >= 4);
  const needles = [...new Set([...list.flatMap(escapedForms), ...list.flatMap(base64Forms)])].sort(
    (a, b) => b.length - a.length,
  );
  return (text) => {
    let out = text;
    for (const s of needles) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return uriPasswords ? out.replace(URI_PASSWORD, `$1${REDACTED}@`) : out;
  };
}

/**
 * `value` (plain JSON data) with `redact` applied to every string and every key, before it is
 * serialized: a secret is found as the characters it is, whatever escaping JSON would give it.
 * Symbol keys are kept (a result's fence, src/sql/untrusted.ts).
 */
export function redactValue(value: unknown, redact: (text: string) => string): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, redact));
  if (value !== null && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return value;
    const out: Record<string | symbol, unknown> = {};
    for (const key of Object.getOwnPropertySymbols(value)) out[key] = (value as Record<symbol, unknown>)[key];
    for (const [k, v] of Object.entries(value)) out[redact(k)] = redactValue(v, redact);
    return out;
  }
  return value;
}
