/**
 * The command line of neon-mcp: an MCP server on stdio. stdout carries JSON-RPC only; everything else goes
 * to stderr, and the API key is never printed.
 */
import { parseArgs } from 'node:util';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { NeonClient } from './client/neon-client.js';
import { stderrLogger } from './log.js';
import { DocsSite } from './neon/docs.js';
import { prepareServer } from './server.js';
import { VERSION } from './version.js';

const USAGE = `neon-mcp ${VERSION}: the Neon API as MCP tools, over stdio.

Usage: neon-mcp [options]

  --api-key KEY          Neon API key (or NEON_API_KEY). Without one, tools/list works and
                         calls that need the API say how to set it.
  --api-url URL          API base URL (or NEON_API_URL; default https://console.neon.tech/api/v2)
  --read-only            Expose only tools that change nothing (or NEON_MCP_READ_ONLY=true)
  --project-id ID        Scope to one project: project_id is implied and account-wide tools
                         are hidden (or NEON_PROJECT_ID)
  --toolsets LIST        Comma-separated toolsets, or "all" (or NEON_MCP_TOOLSETS)
  --tools LIST           Extra single tools to expose (or NEON_MCP_TOOLS)
  --exclude-tools LIST   Tools to hide (or NEON_MCP_EXCLUDE_TOOLS)
  --sql-timeout MS       SQL statement timeout (default 30000; or NEON_MCP_SQL_TIMEOUT_MS)
  --sql-max-rows N       Rows returned by SQL tools at most (default 500; or NEON_MCP_SQL_MAX_ROWS)
  --operation-timeout MS Longest wait for Neon operations (default 600000)
  --docs-url URL         Neon's documentation site for list_docs, get_doc and neon://docs
                         (default https://neon.com; or NEON_MCP_DOCS_URL)
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

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`${name} must be a positive whole number, got "${value}".`);
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
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      'api-key': { type: 'string' },
      'api-url': { type: 'string' },
      'read-only': { type: 'boolean' },
      'project-id': { type: 'string' },
      toolsets: { type: 'string' },
      tools: { type: 'string' },
      'exclude-tools': { type: 'string' },
      'sql-timeout': { type: 'string' },
      'sql-max-rows': { type: 'string' },
      'operation-timeout': { type: 'string' },
      'docs-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.help) {
    process.stderr.write(USAGE);
    return;
  }
  if (values.version) {
    process.stderr.write(`${VERSION}\n`);
    return;
  }

  const apiKey = values['api-key'] || env.NEON_API_KEY || undefined;
  const logger = stderrLogger(apiKey ? [apiKey] : []);
  const client = new NeonClient({
    apiKey,
    baseUrl: values['api-url'] || env.NEON_API_URL || undefined,
    userAgent: `neon-mcp/${VERSION}`,
  });
  const readOnly = Boolean(values['read-only']) || truthy(env.NEON_MCP_READ_ONLY);
  const prepared = prepareServer({
    client,
    readOnly,
    projectId: values['project-id'] || env.NEON_PROJECT_ID || undefined,
    toolsets: list(values.toolsets ?? env.NEON_MCP_TOOLSETS),
    tools: list(values.tools ?? env.NEON_MCP_TOOLS),
    excludeTools: list(values['exclude-tools'] ?? env.NEON_MCP_EXCLUDE_TOOLS),
    sqlTimeoutMs: positiveInt('--sql-timeout', values['sql-timeout'] ?? env.NEON_MCP_SQL_TIMEOUT_MS),
    sqlMaxRows: positiveInt('--sql-max-rows', values['sql-max-rows'] ?? env.NEON_MCP_SQL_MAX_ROWS),
    operationTimeoutMs: positiveInt('--operation-timeout', values['operation-timeout']),
    docsUrl: docsUrl(values['docs-url'] || env.NEON_MCP_DOCS_URL || undefined),
    secrets: apiKey ? [apiKey] : [],
    logger,
  });

  serveStdio(prepared.create, { onerror: (error) => logger.error('transport', error) });
  logger.info(
    `v${VERSION} on stdio: ${prepared.tools.length} tools, read-only ${readOnly ? 'on' : 'off'}` +
      `${prepared.settings.projectId ? `, scoped to project ${prepared.settings.projectId}` : ''}, ` +
      `API key ${apiKey ? 'set' : 'NOT set (calls to Neon will fail until NEON_API_KEY is set)'}`,
  );
}

try {
  main();
} catch (error) {
  process.stderr.write(`neon-mcp: ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
  process.exitCode = 2;
}
