/** The default mode: Neon's API as MCP tools over stdio, with the server's own key (or none yet). */
import type { StdioConfig } from '../config.js';
import { stderrLogger } from '../log.js';
import { serveOnStdio, stdioLine } from './shared.js';

export function startStdioMode(config: StdioConfig): void {
  const logger = stderrLogger(config.apiKey ? [config.apiKey] : []);
  const prepared = serveOnStdio(config, logger);
  logger.info(
    stdioLine(
      prepared,
      config.server.readOnly,
      `API key ${config.apiKey ? 'set' : 'NOT set (calls to Neon will fail until NEON_API_KEY is set)'}`,
    ),
  );
}
