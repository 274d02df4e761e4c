/**
 * The configuration of neon-mcp: argv and the environment become one typed value per mode, parsed
 * once. A pure function: it starts nothing, reads no file and never exits; a value it cannot take is a
 * thrown ConfigError, which src/cli.ts turns into exit status 2 with the usage.
 *
 * Fails closed: every yes/no flag and variable goes through one strict parser (`yesNo`), so a typo
 * such as `NEON_MCP_READ_ONLY=enabled` stops the server instead of starting it writable; every "these
 * cannot be combined" rule is in `combinations`. A new mode is one more case of `Config` (and one module
 * under src/modes/).
 */
import { parseArgs } from 'node:util';
import { NEON_RATE_LIMITS, type RateLimits } from './client/rate-limiter.js';
import { DocsSite } from './neon/docs-site.js';
import { checkDatabaseUrl } from './neon/resolver.js';
import { VERSION } from './version.js';

/** A value the configuration cannot take: the caller prints its message and the usage, and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The server's selection and settings, the same in every mode (src/server.ts's options). */
export interface ServerFlags {
  readOnly: boolean;
  projectId?: string;
  orgId?: string;
  toolsets?: string[];
  tools?: string[];
  excludeTools?: string[];
  sqlTimeoutMs?: number;
  sqlMaxRows?: number;
  sqlMaxBytes?: number;
  operationTimeoutMs?: number;
  /** How long branches made by create_branch live (expires_at), in ms; 0: no expiry (--branch-ttl). */
  branchTtlMs?: number;
  docsUrl?: string;
  /** Only in the database-url mode. */
  databaseUrl?: string;
}

/** What every mode that serves has. */
export interface Serving {
  /** The server's own Neon API key, if one was given (a secret: never printed). */
  apiKey?: string;
  server: ServerFlags;
  /** The Neon client's base URL (undefined: Neon's) and the user agent it sends. */
  client: { baseUrl?: string; userAgent: string };
  /** Neon's rate limits per key, or this instance's share of them. */
  limits: RateLimits;
}

export interface StdioConfig extends Serving {
  mode: 'stdio';
}

export interface HttpConfig extends Serving {
  mode: 'http';
  host: string;
  port: number;
  token?: string;
  allowedOrigins?: string[];
  allowedHosts?: string[];
  maxBodyBytes: number;
  requestTimeoutMs: number;
}

export interface LocalConfig extends Serving {
  mode: 'local';
  /** The data directory; undefined: the default one (src/local decides it). */
  dir?: string;
  /** A PostgreSQL to use instead of starting one (a superuser URL). */
  postgresUrl?: string;
  /** `--local-keep`: the PostgreSQL started here stays up after the last neon-mcp using it stops. */
  keep: boolean;
  /**
   * `--status` or `--stop`: report on DIR's PostgreSQL (or stop it) and exit, serving nothing.
   * Undefined: serve over stdio.
   */
  command?: 'status' | 'stop';
}

export interface DatabaseUrlConfig extends Serving {
  mode: 'database-url';
  databaseUrl: string;
  /** The server the URL names, without its password (for the start-up line). */
  target: { host: string; port: number; user: string; database: string };
}

/** The clients `neon-mcp init` knows (src/modes/init.ts has each one's file and format). */
export const INIT_CLIENTS = [
  'claude-code',
  'claude-desktop',
  'cursor',
  'cursor-project',
  'vscode',
  'windsurf',
  'zed',
  'cline',
] as const;
export type InitClient = (typeof INIT_CLIENTS)[number];

/** `neon-mcp init [CLIENT] [server flags] [--print] [--yes]`: write the client's entry; starts nothing. */
export interface InitConfig {
  mode: 'init';
  /** Undefined: list the clients and their files. */
  client?: InitClient;
  /** Show the resulting file instead of writing it. */
  print: boolean;
  /** Write without asking, even on a terminal. */
  yes: boolean;
  /** The server's flags for the entry's args, checked by the server's own parser, without the key. */
  serverArgs: string[];
  /** The key for the entry's env (flag or NEON_API_KEY); only in API mode. A secret: never printed. */
  apiKey?: string;
}

export type Config =
  | { mode: 'help' }
  | { mode: 'version' }
  | InitConfig
  | StdioConfig
  | HttpConfig
  | LocalConfig
  | DatabaseUrlConfig;

export type Env = Readonly<Record<string, string | undefined>>;

/** The words a yes/no flag or variable takes (any case, spaces around): anything else is refused. */
export const YES = ['true', '1', 'yes', 'on'] as const;
export const NO = ['false', '0', 'no', 'off'] as const;

/**
 * The one yes/no parser: true or false for the words above, undefined for an unset or empty value (an
 * empty variable is how compose files and CI matrices leave one unset), a ConfigError naming `name` and
 * the accepted words for anything else.
 */
export function yesNo(name: string, value: string | undefined, orElse?: string): boolean | undefined {
  const word = value?.trim().toLowerCase();
  if (!word) return undefined;
  if ((YES as readonly string[]).includes(word)) return true;
  if ((NO as readonly string[]).includes(word)) return false;
  throw new ConfigError(
    `${name} must be ${orElse ? `${orElse} or ` : ''}one of ${YES.join('/')} or ${NO.join('/')}, ` +
      `got "${value}" (an unknown value is refused rather than guessed).`,
  );
}

/**
 * NEON_MCP_LOCAL: a yes/no word (yes: the default directory), or a directory. A directory is told
 * apart by a path separator (`/srv/neon`, `./data`, `C:\neon`): a bare word that is not a yes/no word
 * (`enabled`, `ture`, `y`) is refused, not taken for a directory of that name next to wherever the
 * client happened to start the server. A directory in the working directory is written `./name`.
 */
export function localFromEnv(value: string | undefined): { dir?: string } | undefined {
  const v = value?.trim() ?? '';
  if (/[/\\]/.test(v)) return { dir: v };
  const on = yesNo('NEON_MCP_LOCAL', v, 'a directory (with a path separator, e.g. /srv/neon-mcp or ./data)');
  return on ? {} : undefined;
}

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
    throw new ConfigError(`${name} must be ${range}, got "${value}".`);
  }
  return n;
}

/** Neon takes an expires_at at most 30 days ahead. */
const MAX_BRANCH_TTL_DAYS = 30;

/**
 * --branch-ttl: `0` (no expiry), or a whole number of hours (`36h`) or days (`7d`), at most 30 days.
 * Undefined when not given (the server's default applies).
 */
export function branchTtl(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const m = /^(\d{1,4})([hd])?$/.exec(value.trim());
  const hours = m ? Number(m[1]) * (m[2] === 'd' ? 24 : m[2] === 'h' ? 1 : Number.NaN) : Number.NaN;
  if (m?.[1] === '0' && !m[2]) return 0;
  if (!Number.isFinite(hours) || hours > MAX_BRANCH_TTL_DAYS * 24) {
    throw new ConfigError(
      `--branch-ttl must be 0 (no expiry) or hours or days such as 24h or 7d, at most ${MAX_BRANCH_TTL_DAYS}d, got "${value}".`,
    );
  }
  return hours * 3_600_000;
}

/** Checked at start-up: a typo should stop the server, not every docs call. */
function docsUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  new DocsSite(value);
  return value;
}

/** `PORT`, `HOST:PORT` or `[IPv6]:PORT`; the host defaults to loopback. */
function hostPort(value: string): [string, number] {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65_535)
    throw new ConfigError(`--http takes [HOST:]PORT (e.g. 8080 or 0.0.0.0:8080), got "${value}".`);
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
    throw new ConfigError(
      `--rate-limit-share must be a share from 0 to 1 (e.g. 1/3, 0.5, 25%), got "${value}".`,
    );
  return {
    perMinute: Math.max(1, Math.floor(NEON_RATE_LIMITS.perMinute * share)),
    perSecondPerRoute: Math.max(1, Math.floor(NEON_RATE_LIMITS.perSecondPerRoute * share)),
  };
}

const OPTIONS = {
  'api-key': { type: 'string' },
  'api-url': { type: 'string' },
  'read-only': { type: 'boolean' },
  'project-id': { type: 'string' },
  'org-id': { type: 'string' },
  toolsets: { type: 'string' },
  tools: { type: 'string' },
  'exclude-tools': { type: 'string' },
  'sql-timeout': { type: 'string' },
  'branch-ttl': { type: 'string' },
  'sql-max-rows': { type: 'string' },
  'sql-max-bytes': { type: 'string' },
  'operation-timeout': { type: 'string' },
  'docs-url': { type: 'string' },
  'database-url': { type: 'string' },
  'rate-limit-share': { type: 'string' },
  http: { type: 'string' },
  'http-token': { type: 'string' },
  'allowed-origins': { type: 'string' },
  'allowed-hosts': { type: 'string' },
  'http-max-body': { type: 'string' },
  'http-timeout': { type: 'string' },
  local: { type: 'boolean' },
  'local-postgres': { type: 'string' },
  'local-keep': { type: 'boolean' },
  status: { type: 'boolean' },
  stop: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

/** `--local=DIR` is `--local DIR` (parseArgs has no flag with an optional value). */
function localArgs(argv: readonly string[]): string[] {
  return argv.flatMap((a) => (a.startsWith('--local=') ? ['--local', a.slice('--local='.length)] : [a]));
}

/** Which modes were asked for, from flags and environment, before any rule is applied. */
interface Asked {
  http?: string;
  local?: { dir?: string };
  databaseUrl?: string;
  projectId?: string;
  localPostgresFlag: boolean;
  /** `--status` / `--stop` / `--local-keep` given (local mode's own flags). */
  localOnly: string[];
  /** The first remote-mode setting given (flag or variable), named as given. */
  httpSetting?: string;
}

/** Settings that only remote mode reads: each flag with its variable. */
const HTTP_SETTINGS = [
  ['http-token', 'NEON_MCP_HTTP_TOKEN'],
  ['allowed-origins', 'NEON_MCP_ALLOWED_ORIGINS'],
  ['allowed-hosts', 'NEON_MCP_ALLOWED_HOSTS'],
  ['http-max-body', 'NEON_MCP_HTTP_MAX_BODY'],
  ['http-timeout', 'NEON_MCP_HTTP_TIMEOUT_MS'],
] as const;

/** The first remote-mode setting given, as `--flag` or the variable's name; empty ones count as unset. */
function httpSetting(values: Partial<Record<string, unknown>>, env: Env): string | undefined {
  for (const [flag, variable] of HTTP_SETTINGS) {
    if (values[flag]) return `--${flag}`;
    if (env[variable]?.trim()) return variable;
  }
  return undefined;
}

/** Every "these cannot be combined" rule, in one place. The messages never carry a URL's password. */
function combinations(asked: Asked): void {
  if (asked.databaseUrl && asked.projectId)
    throw new ConfigError(
      '--database-url serves one PostgreSQL server without Neon: --project-id does not apply.',
    );
  if (asked.databaseUrl && asked.http !== undefined)
    throw new ConfigError('--database-url is served over stdio only: leave out --http.');
  if (asked.localPostgresFlag && !asked.local) throw new ConfigError('--local-postgres needs --local.');
  for (const flag of asked.localOnly)
    if (!asked.local)
      throw new ConfigError(`${flag} needs --local (it is about local mode's PostgreSQL in DIR).`);
  if (asked.localOnly.includes('--status') && asked.localOnly.includes('--stop'))
    throw new ConfigError('--status and --stop cannot be combined: ask for one.');
  if (asked.localPostgresFlag && asked.localOnly.length)
    throw new ConfigError(
      `${asked.localOnly[0]} is about the PostgreSQL local mode runs in DIR; with --local-postgres the server is yours to manage.`,
    );
  if (asked.local && (asked.databaseUrl || asked.http !== undefined))
    throw new ConfigError('--local is served over stdio, without --database-url or --http.');
  // Refused rather than ignored: an access token or an allowed-hosts list that silently does nothing
  // leaves a person believing a server is protected that is not even listening. Never the value (a token).
  if (asked.httpSetting && asked.http === undefined)
    throw new ConfigError(
      `${asked.httpSetting} needs --http (or NEON_MCP_HTTP): it is a setting of remote mode only, ` +
        'and without --http the server runs over stdio.',
    );
}

function args(argv: readonly string[]) {
  try {
    return parseArgs({ args: localArgs(argv), strict: true, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    // parseArgs's own message names the flag (`Unknown option '--bogus'`).
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
}

/** Errors of the checks borrowed from other modules (the database URL, the docs URL) become ConfigErrors. */
function checked<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new ConfigError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * `init [CLIENT] …`: CLIENT comes first (a `--local DIR` later on cannot be taken for it); the rest are
 * the server's flags, checked by parsing them as the server would, so a typo fails here and not in the
 * client. Only the flags count, not the NEON_MCP_* variables of this shell: the entry says everything
 * it means. The key is the exception (flag or NEON_API_KEY), kept out of the args.
 */
function parseInit(argv: readonly string[], env: Env): Config {
  const first = argv[0];
  let client: InitClient | undefined;
  let rest = argv;
  if (first !== undefined && !first.startsWith('-')) {
    if (!(INIT_CLIENTS as readonly string[]).includes(first))
      throw new ConfigError(`init: unknown client "${first}"; the clients are ${INIT_CLIENTS.join(', ')}.`);
    client = first as InitClient;
    rest = argv.slice(1);
  }
  const print = rest.includes('--print');
  const yes = rest.includes('--yes');
  const serverArgs: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (arg === '--print' || arg === '--yes') continue;
    if (arg === '--api-key') i++;
    else if (!arg.startsWith('--api-key=')) serverArgs.push(arg);
  }
  const server = parseConfig(
    rest.filter((a) => a !== '--print' && a !== '--yes'),
    {
      NEON_API_KEY: env.NEON_API_KEY,
    },
  );
  if (server.mode === 'help' || server.mode === 'version') return server;
  if (server.mode === 'init') throw new ConfigError('init: "init" given twice.');
  if (server.mode === 'http')
    throw new ConfigError('init: clients start neon-mcp over stdio; leave out --http.');
  // A client would run the report or the stop at every start, serving nothing.
  if (server.mode === 'local' && server.command)
    throw new ConfigError(
      `init: --${server.command} reports on or stops local mode's server and exits; a client needs a server: leave it out.`,
    );
  return {
    mode: 'init',
    client,
    print,
    yes,
    serverArgs,
    // Local and database-url modes use no key: none is written where it would only leak.
    apiKey: server.mode === 'stdio' ? server.apiKey : undefined,
  };
}

/**
 * argv (without node and the script) and the environment → the configuration. A flag wins over its
 * variable; an empty value counts as unset.
 */
export function parseConfig(argv: readonly string[], env: Env): Config {
  if (argv[0] === 'init') return parseInit(argv.slice(1), env);
  const { values, positionals } = args(argv);
  if (values.help) return { mode: 'help' };
  if (values.version) return { mode: 'version' };
  if (positionals.length > (values.local ? 1 : 0))
    throw new ConfigError(`unexpected argument "${positionals.at(-1)}" (only --local takes a DIR after it)`);

  // Not DATABASE_URL: it is often set for an application and would silently change the server's mode.
  const databaseUrl = values['database-url'] || env.NEON_MCP_DATABASE_URL || undefined;
  const projectId = values['project-id'] || env.NEON_PROJECT_ID || undefined;
  const http = values.http ?? (env.NEON_MCP_HTTP?.trim() || undefined);
  const local = values.local ? { dir: positionals[0] } : localFromEnv(env.NEON_MCP_LOCAL);
  const localOnly = (['status', 'stop', 'local-keep'] as const).filter((f) => values[f]).map((f) => `--${f}`);
  combinations({
    http,
    local,
    databaseUrl,
    projectId,
    localPostgresFlag: Boolean(values['local-postgres']),
    localOnly,
    httpSetting: httpSetting(values, env),
  });

  const server: ServerFlags = {
    // The flag can only turn read-only on; the variable must still be a yes/no word when both are given.
    readOnly: (yesNo('NEON_MCP_READ_ONLY', env.NEON_MCP_READ_ONLY) ?? false) || Boolean(values['read-only']),
    projectId,
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
    docsUrl: checked(() => docsUrl(values['docs-url'] || env.NEON_MCP_DOCS_URL || undefined)),
    branchTtlMs: branchTtl(values['branch-ttl'] ?? env.NEON_MCP_BRANCH_TTL),
    databaseUrl,
  };
  const serving: Serving = {
    apiKey: values['api-key'] || env.NEON_API_KEY || undefined,
    server,
    client: { baseUrl: values['api-url'] || env.NEON_API_URL || undefined, userAgent: `neon-mcp/${VERSION}` },
    limits: shareOf(values['rate-limit-share'] ?? env.NEON_MCP_RATE_LIMIT_SHARE),
  };

  if (databaseUrl) {
    const target = checked(() => checkDatabaseUrl(databaseUrl));
    return { mode: 'database-url', ...serving, databaseUrl, target };
  }
  if (local) {
    const postgresUrl = values['local-postgres'] || env.NEON_MCP_LOCAL_POSTGRES || undefined;
    const keep =
      Boolean(values['local-keep']) || (yesNo('NEON_MCP_LOCAL_KEEP', env.NEON_MCP_LOCAL_KEEP) ?? false);
    const command = values.status ? 'status' : values.stop ? 'stop' : undefined;
    // --status and --stop are about DIR's own server: NEON_MCP_LOCAL_POSTGRES's is not theirs (the
    // flag's is refused above).
    if (command) return { mode: 'local', ...serving, dir: local.dir, keep, command };
    return { mode: 'local', ...serving, dir: local.dir, postgresUrl, keep };
  }
  if (http !== undefined) {
    const [host, port] = hostPort(http);
    return {
      mode: 'http',
      ...serving,
      host,
      port,
      token: values['http-token'] || env.NEON_MCP_HTTP_TOKEN || undefined,
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
    };
  }
  return { mode: 'stdio', ...serving };
}
