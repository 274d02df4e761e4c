/** Logging goes to stderr only: stdout belongs to JSON-RPC. */

export interface Logger {
  info(message: string): void;
  error(message: string, error?: unknown): void;
}

/** Returns a function that replaces every secret in a text with `[redacted]`. */
export function redactor(secrets: readonly string[]): (text: string) => string {
  const list = secrets.filter((s) => s.length >= 4);
  if (list.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const s of list) out = out.split(s).join('[redacted]');
    return out;
  };
}

/** A logger writing one line per message to stderr, with secrets redacted. */
export function stderrLogger(secrets: readonly string[] = []): Logger {
  const redact = redactor(secrets);
  const write = (line: string) => process.stderr.write(`${redact(line)}\n`);
  return {
    info: (message) => write(`[neon-mcp] ${message}`),
    error: (message, error) => {
      const detail =
        error instanceof Error ? (error.stack ?? error.message) : error === undefined ? '' : String(error);
      write(`[neon-mcp] error: ${message}${detail ? `: ${detail}` : ''}`);
    },
  };
}
