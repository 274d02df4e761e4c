/**
 * What the modes share: the clean stop on SIGTERM and SIGINT, and a prepared server on stdio behind
 * the line guard (stdio, --local and --database-url all serve there; --http does not).
 */
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import { NeonClient, type NeonClientOptions } from '../client/neon-client.js';
import { RateLimiter } from '../client/rate-limiter.js';
import type { Serving } from '../config.js';
import { firstLine, type Logger, redactor } from '../log.js';
import { databaseUrlSecrets } from '../neon/resolver.js';
import { prepareServer } from '../server.js';
import { type LineProblem, lineGuard, MAX_LINE_BYTES, onceWithCount } from '../transport.js';
import { VERSION } from '../version.js';
import { connectHelp, entryPath, type Started } from './terminal.js';

/**
 * SIGTERM and SIGINT stop the server cleanly: `stop` runs once (bounded to 5 s), then the process
 * exits. Without this Node exits at once and a running query goes on on the server until its
 * statement timeout.
 */
export function onSignals(stop: () => Promise<void>, logger: Logger, boundMs = 5_000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info(
      `${signal}: stopping (calls in flight are finished or cancelled) and closing SQL connections`,
    );
    const deadline = setTimeout(() => process.exit(1), boundMs);
    deadline.unref();
    stop().then(
      () => process.exit(0),
      (error) => {
        logger.error('shutdown', error);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}

/** Answers (when its id is known) and reports a line the guard dropped. */
function refuseLine(problem: LineProblem, wire: StdioServerTransport, report: (line: string) => void): void {
  const message =
    problem.kind === 'too large'
      ? `Message of ${problem.bytes} bytes exceeds the limit of one stdio message (${MAX_LINE_BYTES} bytes); it was not read.`
      : 'Message is not valid JSON; it was not read.';
  if (problem.id !== undefined) {
    wire
      .send({
        jsonrpc: '2.0',
        id: problem.id,
        error: { code: problem.kind === 'too large' ? -32600 : -32700, message },
      })
      .catch(() => undefined);
  }
  report(
    `transport: ${problem.kind === 'too large' ? 'a message over the size limit' : 'a line that is not JSON'} was dropped`,
  );
}

/**
 * The server of a stdio mode: its Neon client (`client` overrides its options), the prepared tools,
 * and stdin/stdout behind the line guard; on SIGTERM the connection closes, then the SQL pools, then
 * `stop` (what the mode started besides).
 */
export function serveOnStdio(
  config: Serving & { mode: Started['mode']; postgresUrl?: string },
  logger: Logger,
  more: { client?: Partial<NeonClientOptions>; stop?: () => Promise<void> } = {},
) {
  const client = new NeonClient({
    apiKey: config.apiKey,
    ...config.client,
    ...more.client,
    limiter: new RateLimiter(config.limits),
  });
  const prepared = prepareServer({
    client,
    ...config.server,
    secrets: config.apiKey ? [config.apiKey] : [],
    logger,
  });
  // Repeated transport errors (10,000 bad lines) are one line with a count, not one line each.
  const report = onceWithCount((line) => logger.info(line));
  const wire = new StdioServerTransport(
    process.stdin.pipe(lineGuard((problem) => refuseLine(problem, wire, report))),
    process.stdout,
    // The guard hands over one line at a time, each within MAX_LINE_BYTES: this bound is never reached.
    { maxBufferSize: 2 * MAX_LINE_BYTES },
  );
  const handle = serveStdio(prepared.create, {
    transport: wire,
    onerror: (error) => report(`transport: ${firstLine(error)}`),
  });
  onSignals(async () => {
    // Closing the connection aborts the calls in flight, which cancels their queries on the server;
    // then the SQL pools are closed (waiting for those connections to come back).
    await handle.close().catch(() => undefined);
    const { connections } = await import('../sql/pools.js');
    await connections.closeAll();
    await more.stop?.();
    report.flush();
  }, logger);
  if (process.stdin.isTTY) sayHowToConnect(config);
  return prepared;
}

/**
 * On a terminal, a person started the server by hand: after the mode's start-up line (hence the next
 * tick), say what it is and how to add it to a client. Clients start it with pipes, never a TTY.
 */
function sayHowToConnect(config: Serving & { mode: Started['mode']; postgresUrl?: string }): void {
  const redact = redactor([
    ...(config.apiKey ? [config.apiKey] : []),
    ...(config.server.databaseUrl ? databaseUrlSecrets(config.server.databaseUrl) : []),
    ...(config.postgresUrl ? databaseUrlSecrets(config.postgresUrl) : []),
  ]);
  const started: Started = {
    entry: entryPath(),
    argv: process.argv.slice(2),
    cwd: process.cwd(),
    env: process.env,
    mode: config.mode,
    redact,
  };
  process.nextTick(() => process.stderr.write(connectHelp(started)));
}

/** The start-up line of the modes on Neon's API (or its local stand-in), ending with `tail`. */
export function stdioLine(
  prepared: ReturnType<typeof prepareServer>,
  readOnly: boolean,
  tail: string,
): string {
  return (
    `v${VERSION} on stdio: ${prepared.tools.length} tools, read-only ${readOnly ? 'on' : 'off'}` +
    `${prepared.settings.projectId ? `, scoped to project ${prepared.settings.projectId}` : ''}` +
    `${prepared.settings.orgId ? `, organization ${prepared.settings.orgId}` : ''}, ${tail}`
  );
}
