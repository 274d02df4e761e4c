/**
 * `neon-mcp --local [DIR] --status` and `--stop`: what a person asks about local mode's PostgreSQL
 * without an MCP client: where the data is, whether its server runs (pid, port), which neon-mcp
 * processes use it, its size on disk; and stopping it. Both work whether or not a server runs, and
 * start nothing.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import {
  attached,
  commandOf,
  defaultLocalDir,
  PRESENCE,
  PRESENT,
  runningServer,
  superuserUrl,
  withStartLock,
} from './index.js';

/** A neon-mcp process attached to the server (its presence connection). */
interface User {
  pid?: number;
  command?: string;
}

/** Bytes on disk under `path` (allocated blocks; unreadable entries are skipped). */
function diskBytes(path: string): number {
  let total = 0;
  const walk = (p: string) => {
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    total += st.blocks * 512;
    if (!st.isDirectory()) return;
    let names: string[] = [];
    try {
      names = readdirSync(p);
    } catch {
      return;
    }
    for (const n of names) walk(join(p, n));
  };
  walk(path);
  return total;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The neon-mcp processes connected to the server, or why they could not be listed. */
async function usersOf(dir: string, port: number): Promise<User[] | string> {
  const password = readText(join(dir, 'superuser-password'));
  if (!password) return `${join(dir, 'superuser-password')} cannot be read`;
  const c = new pg.Client({ connectionString: superuserUrl(password, port), connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const { rows } = await c.query<{ name: string }>(
      `SELECT application_name AS name FROM pg_stat_activity WHERE ${PRESENT} ORDER BY backend_start`,
      [PRESENCE],
    );
    return rows.map((r) => {
      const pid = Number(/\[(\d+)\]$/.exec(r.name)?.[1]) || undefined;
      return { pid, command: pid ? commandOf(pid) : undefined };
    });
  } catch (e) {
    return `it does not answer DIR's superuser (${e instanceof Error ? e.message : String(e)})`;
  } finally {
    await c.end().catch(() => undefined);
  }
}

function describeUsers(users: User[]): string {
  if (!users.length) return 'none';
  return users
    .map((u) =>
      u.pid
        ? `pid ${u.pid}${u.command ? ` (${u.command})` : ''}`
        : 'a neon-mcp of an earlier version (pid unknown)',
    )
    .join('; ');
}

/** `--local --status`: a few lines for a person. */
export async function localStatus(dirGiven?: string): Promise<string> {
  const dir = resolve(dirGiven ?? defaultLocalDir());
  const dataDir = join(dir, 'pg');
  const lines = [`neon-mcp local mode, DIR ${dir}`];
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    lines.push(
      existsSync(dir)
        ? `  data:    none yet in ${dataDir} (the next neon-mcp --local ${dir} makes it)`
        : `  data:    none: ${dir} does not exist (the first neon-mcp --local ${dir} makes it)`,
    );
    return `${lines.join('\n')}\n`;
  }
  const version = readText(join(dataDir, 'PG_VERSION'));
  lines.push(`  data:    ${dataDir} (PostgreSQL ${version}), ${mib(diskBytes(dir))} on disk`);
  const running = runningServer(dataDir);
  const kept = readText(join(dir, 'port'));
  if (!running) {
    lines.push(
      `  server:  not running${kept ? `; port ${kept} is kept in ${join(dir, 'port')} for the next start` : ''}`,
    );
    lines.push('  used by: none');
    return `${lines.join('\n')}\n`;
  }
  lines.push(`  server:  running, pid ${running.pid}, 127.0.0.1:${running.port}`);
  const users = await usersOf(dir, running.port);
  lines.push(
    typeof users === 'string'
      ? `  used by: unknown: ${users}`
      : `  used by: ${describeUsers(users)}${users.length ? '' : ' (left running by --local-keep, or by a neon-mcp that was killed)'}`,
  );
  return `${lines.join('\n')}\n`;
}

/**
 * `--local --stop`: a fast shutdown of DIR's PostgreSQL (open transactions are rolled back; what was
 * committed is kept), under DIR's start lock so that no neon-mcp attaches meanwhile. Neon-mcp
 * processes still using it are named: their calls fail until their client restarts them.
 */
export async function stopLocalServer(dirGiven?: string): Promise<string> {
  const dir = resolve(dirGiven ?? defaultLocalDir());
  const dataDir = join(dir, 'pg');
  if (!existsSync(dir)) return `neon-mcp local mode: ${dir} does not exist; nothing to stop.\n`;
  return withStartLock(dir, async () => {
    const running = runningServer(dataDir);
    if (!running) return `neon-mcp local mode: PostgreSQL is not running on ${dataDir}; nothing to stop.\n`;
    const users = await usersOf(dir, running.port);
    await attached(running.pid, dataDir).stop();
    if (runningServer(dataDir))
      throw new Error(
        `PostgreSQL (pid ${running.pid}) on ${dataDir} did not stop within 10 s; it may be finishing a checkpoint: ask again, or stop it as the user it runs as (kill -INT ${running.pid}).`,
      );
    const was =
      typeof users === 'string' || !users.length
        ? ''
        : ` It was in use by ${users.length} neon-mcp process(es): ${describeUsers(users)}. Their calls fail until their MCP client restarts them; the next neon-mcp --local on ${dir} starts it again.`;
    return `neon-mcp local mode: stopped PostgreSQL (pid ${running.pid}, port ${running.port}) on ${dataDir}; the data stays in ${dir}.${was}\n`;
  });
}
