/**
 * eventSink (src/mcp/logging.ts) on its own: each event becomes one log message of the call, under the
 * logger name `neon-mcp`, redacted; only a rate-limiter wait is also sent as progress. logging.test.ts
 * checks the same through a client; this file pins what a client's view leaves open.
 */
import type { ServerContext } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import type { ClientEvent } from '../src/client/events.js';
import { eventSink } from '../src/mcp/logging.js';

function sink(fail = false) {
  const logs: unknown[][] = [];
  const progress: string[] = [];
  const mcp = {
    mcpReq: {
      log: async (...args: unknown[]) => {
        logs.push(args);
        if (fail) throw new Error('the connection is gone');
      },
    },
  } as unknown as ServerContext;
  const send = eventSink(
    mcp,
    (t) => t.replaceAll('s3cret', '[redacted]'),
    async (m) => {
      progress.push(m);
    },
  );
  return { send, logs, progress };
}

describe('eventSink', () => {
  it('logs each event at its level under neon-mcp, redacted; progress only for a queued call', () => {
    const { send, logs, progress } = sink();
    const events: ClientEvent[] = [
      { level: 'warning', kind: 'retry', message: 'Retrying after s3cret' },
      { level: 'info', kind: 'operation_wait', message: 'Waiting' },
      { level: 'info', kind: 'queued', message: 'Queued for 1 s (s3cret)' },
    ];
    for (const e of events) send(e);
    expect(logs).toEqual([
      ['warning', { event: 'retry', message: 'Retrying after [redacted]' }, 'neon-mcp'],
      ['info', { event: 'operation_wait', message: 'Waiting' }, 'neon-mcp'],
      ['info', { event: 'queued', message: 'Queued for 1 s ([redacted])' }, 'neon-mcp'],
    ]);
    expect(progress).toEqual(['Queued for 1 s ([redacted])']);
  });

  it('a log that fails does not throw into the work that emitted', async () => {
    const { send, logs } = sink(true);
    expect(() => send({ level: 'info', kind: 'retry', message: 'x' })).not.toThrow();
    await new Promise((r) => setTimeout(r, 5));
    expect(logs).toHaveLength(1);
  });
});
