/** `--database-url`: only the SQL tools, on one PostgreSQL server, over stdio, without Neon's API. */
import type { DatabaseUrlConfig } from '../config.js';
import { stderrLogger } from '../log.js';
import { databaseUrlSecrets } from '../neon/resolver.js';
import { VERSION } from '../version.js';
import { serveOnStdio } from './shared.js';

export function startDatabaseUrlMode(config: DatabaseUrlConfig): void {
  // The URL's password is a secret of the log like the key.
  const logger = stderrLogger([
    ...(config.apiKey ? [config.apiKey] : []),
    ...databaseUrlSecrets(config.databaseUrl),
  ]);
  const prepared = serveOnStdio(config, logger);
  const { host, port, database, user } = config.target;
  // The URL's password never leaves: the line names the server, its user and database only.
  logger.info(
    `v${VERSION} on stdio: ${prepared.tools.length} SQL tools on PostgreSQL ${host}:${port} ` +
      `(database ${database}, user ${user}), read-only ${config.server.readOnly ? 'on' : 'off'}, no Neon API`,
  );
}
