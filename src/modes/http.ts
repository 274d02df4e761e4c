/**
 * `--http`: remote mode, the tools over Streamable HTTP for a team. Its server (src/http) is loaded
 * only in this mode; this module starts it, says how it runs, and drains it on SIGTERM.
 */
import { NEON_RATE_LIMITS } from '../client/rate-limiter.js';
import type { HttpConfig } from '../config.js';
import { stderrLogger } from '../log.js';
import { VERSION } from '../version.js';
import { onSignals } from './shared.js';

/** How long a stopping HTTP server lets requests in flight finish before cancelling them. */
const HTTP_DRAIN_MS = 10_000;

export function startHttpMode(config: HttpConfig): void {
  const { apiKey, token, limits } = config;
  const logger = stderrLogger([apiKey, token].filter((s): s is string => Boolean(s)));
  const options = {
    host: config.host,
    port: config.port,
    server: config.server,
    apiKey,
    token,
    clientOptions: config.client,
    limits,
    allowedOrigins: config.allowedOrigins,
    allowedHosts: config.allowedHosts,
    maxBodyBytes: config.maxBodyBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    logger,
  };
  import('../http/serve.js')
    .then(({ startHttpServer }) => startHttpServer(options))
    .then((http) => {
      onSignals(() => drainHttp(http), logger, HTTP_DRAIN_MS + 5_000);
      logger.info(
        `v${VERSION} on ${http.url}/mcp: read-only ${config.server.readOnly ? 'on' : 'off'}, ` +
          (apiKey
            ? `the server's own API key${token ? ', clients need the access token' : ', no access token (loopback only)'}`
            : "each request's own Neon API key (Authorization: Bearer)") +
          (limits.perMinute < NEON_RATE_LIMITS.perMinute ? `, ${limits.perMinute} requests/min per key` : ''),
      );
    })
    .catch((error) => {
      // Not a configuration error (the usage would not help): the port is taken, say.
      process.stderr.write(`neon-mcp: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(2);
    });
}

async function drainHttp(http: import('../http/serve.js').HttpServer): Promise<void> {
  await http.close(HTTP_DRAIN_MS);
  const { connections } = await import('../sql/pools.js');
  await connections.closeAll();
}
