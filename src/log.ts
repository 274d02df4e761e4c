/** Logging goes to stderr only: stdout belongs to JSON-RPC. */
import { redactor as redactSecrets } from './client/redact.js';

export interface Logger {
  info(message: string): void;
  error(message: string, error?: unknown): void;
}

/**
 * Returns a function that replaces every secret in a text with `[redacted]`: verbatim, in its base64
 * forms, and every password inside a connection URI (the client redacts error bodies with the same
 * function, before it shortens them).
 */
export const redactor = redactSecrets;

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

/**
 * The first line of an error's message, shortened: a log line, not a dump of the offending input
 * (a bad JSON-RPC line, a PostgreSQL message quoting a value).
 */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
