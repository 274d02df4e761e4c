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
 * Returns a function that replaces every secret (verbatim or base64-encoded) and, unless
 * `uriPasswords` is false, every password in a connection URI with `[redacted]`. Secrets shorter than
 * 4 characters are ignored (they would match everywhere). Tool results that exist to hand out a
 * connection string are redacted with `uriPasswords: false`; errors and logs never carry one.
 */
export function redactor(
  secrets: readonly string[],
  { uriPasswords = true }: { uriPasswords?: boolean } = {},
): (text: string) => string {
  const list = secrets.filter((s) => s.length >= 4);
  const needles = [...new Set([...list, ...list.flatMap(base64Forms)])].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const s of needles) if (out.includes(s)) out = out.split(s).join(REDACTED);
    return uriPasswords ? out.replace(URI_PASSWORD, `$1${REDACTED}@`) : out;
  };
}
