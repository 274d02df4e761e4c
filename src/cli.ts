/**
 * The command line of neon-mcp: parses the configuration (src/config.ts) and starts its mode
 * (src/modes/). stdout carries JSON-RPC only, and the output asked for by --help and --version;
 * everything else goes to stderr, and the API key is never printed.
 */
import { type Config, type Env, parseConfig } from './config.js';
import { startDatabaseUrlMode } from './modes/database-url.js';
import { startHttpMode } from './modes/http.js';
import { startLocalMode } from './modes/local.js';
import { startStdioMode } from './modes/stdio.js';
import { USAGE } from './usage.js';
import { VERSION } from './version.js';

function start(config: Config): void {
  switch (config.mode) {
    // Asked-for output goes to stdout (`neon-mcp --version | cat`); the server itself never writes
    // there but JSON-RPC, and these two exit before it starts.
    case 'help':
      process.stdout.write(USAGE);
      return;
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return;
    case 'init':
      // Loaded only here: the server never pays for the client-config code and its JSONC parser.
      import('./modes/init.js')
        .then(({ runInit }) => runInit(config))
        .catch((error) => {
          process.stderr.write(`neon-mcp init: ${error instanceof Error ? error.message : String(error)}\n`);
          process.exitCode = 1;
        });
      return;
    case 'stdio':
      startStdioMode(config);
      return;
    case 'http':
      startHttpMode(config);
      return;
    case 'local':
      startLocalMode(config);
      return;
    case 'database-url':
      startDatabaseUrlMode(config);
      return;
  }
}

/**
 * Parses and starts. A configuration the server cannot take (or a start that fails at once, e.g. an
 * unknown toolset) exits 2 with the problem and the usage; nothing is served.
 */
export function main(argv: readonly string[] = process.argv.slice(2), env: Env = process.env): void {
  try {
    start(parseConfig(argv, env));
  } catch (error) {
    process.stderr.write(`neon-mcp: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    process.exitCode = 2;
  }
}
