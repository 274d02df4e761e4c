/** Polling a status endpoint (anonymization, function deployments) until it settles. */
import type { NeonContext } from './context.js';
import { poll } from './poll.js';

/**
 * Polls `read` until `done` says so, reporting progress, within the server's operation timeout, on the
 * same schedule as operation waits. On timeout it returns the last state: the work goes on at Neon and
 * the caller says how to follow it.
 */
export function pollStatus<T>(
  ctx: Pick<NeonContext, 'signal' | 'progress' | 'settings'>,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  describe: (value: T) => string,
): Promise<{ value: T; timedOut: boolean }> {
  return poll({
    ...ctx.settings.backoff,
    read,
    done,
    onValue: (value) => (done(value) ? undefined : ctx.progress(describe(value))),
    timeoutMs: ctx.settings.operationTimeoutMs,
    signal: ctx.signal,
  });
}
