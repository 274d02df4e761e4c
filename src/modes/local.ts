/**
 * `--local`: no Neon account. The tools talk to the local stand-in for Neon's API (src/local, loaded
 * only in this mode) on a local PostgreSQL, over stdio.
 */
import type { LocalConfig } from '../config.js';
import { firstLine, type Logger, stderrLogger } from '../log.js';
import { serveOnStdio, stdioLine } from './shared.js';

/** The client's base URL in local mode; each request is sent to the local API's real port instead. */
const LOCAL_PLACEHOLDER = 'http://local.invalid/api/v2';
/** The client's key in local mode (it redacts it from messages, so not a word that occurs in them). */
const LOCAL_KEY_PLACEHOLDER = 'neon-mcp-local-mode-placeholder-key';

export function startLocalMode(config: LocalConfig): void {
  if (config.command) {
    runCommand(config.command, config.dir);
    return;
  }
  const logger = stderrLogger(config.apiKey ? [config.apiKey] : []);
  const localApi = startLocalApi(config.dir, config.postgresUrl, config.keep, logger);
  const prepared = serveOnStdio(config, logger, {
    client: { apiKey: LOCAL_KEY_PLACEHOLDER, baseUrl: LOCAL_PLACEHOLDER, fetch: localApi.fetch },
    stop: localApi.stop,
  });
  // The local server and its PostgreSQL would keep the process alive after the client went away.
  process.stdin.once('end', () => process.kill(process.pid, 'SIGTERM'));
  logger.info(stdioLine(prepared, config.server.readOnly, 'local mode (no Neon account)'));
}

/**
 * Starts the local API in the background (PostgreSQL can take seconds on a first start): requests wait
 * for it, and fail with its error if it could not start. The fetch given to the client sends each
 * request to the local API with its key; the module is imported only here.
 */
/**
 * `--status` / `--stop`: asked-for output on stdout (no MCP is served), a failure on stderr with
 * exit code 1.
 */
function runCommand(command: 'status' | 'stop', dir: string | undefined): void {
  import('../local/admin.js')
    .then((admin) => (command === 'status' ? admin.localStatus(dir) : admin.stopLocalServer(dir)))
    .then(
      (text) => process.stdout.write(text),
      (error) => {
        process.stderr.write(`neon-mcp --local --${command}: ${firstLine(error)}\n`);
        process.exitCode = 1;
      },
    );
}

function startLocalApi(
  dir: string | undefined,
  postgresUrl: string | undefined,
  keep: boolean,
  logger: Logger,
) {
  const ready = import('../local/index.js').then(async ({ startLocal }) => {
    const { connections } = await import('../sql/pools.js');
    return startLocal({
      dir,
      postgresUrl,
      keep,
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
