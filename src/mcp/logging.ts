/**
 * The server's own events as MCP log messages (`notifications/message`) of the call they belong to.
 * The SDK applies the client's threshold: `logging/setLevel` on a 2025-era connection, the request's
 * log level on a 2026-07-28 one (where a request without one gets no messages). Rate-limiter waits
 * are also sent as progress, so a client that resets its timeout on progress keeps waiting.
 */
import type { ServerContext } from '@modelcontextprotocol/server';
import type { ClientEvent } from '../client/events.js';

export function eventSink(
  mcp: ServerContext,
  redact: (text: string) => string,
  progress: (message: string) => Promise<void>,
): (event: ClientEvent) => void {
  return (event) => {
    const message = redact(event.message);
    void mcp.mcpReq.log(event.level, { event: event.kind, message }, 'neon-mcp').catch(() => undefined);
    if (event.kind === 'queued') void progress(message);
  };
}
