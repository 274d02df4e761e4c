#!/usr/bin/env node
/**
 * `node bench/local-designs.mjs`: the two designs of issue #24 item 5 for local mode's branches, side by
 * side on the embedded PostgreSQL 18 (default settings): a database per branch on one server (what local
 * mode does; names are tagged, `neondb__<tag>`) against a server per branch (names are the real ones):
 * the time to make a branch, the memory an idle branch holds, and its size on disk. The parent is a
 * 20-table schema with a few rows, as a development database starts. Prints a table (docs/LOCAL.md
 * quotes it); not part of `npm run bench`.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { buildOurs, median } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
buildOurs();
const { startEmbedded, freePort } = await import('../dist/local/postgres.js');

// In the system's temporary directory, open to the `postgres` user PostgreSQL runs as under root.
const root = mkdtempSync(join(tmpdir(), 'neon-mcp-designs-'));
chmodSync(root, 0o755);
const password = 'bench-designs';
const url = (port, db) => `postgresql://postgres:${password}@127.0.0.1:${port}/${db}`;
async function sql(port, db, text) {
  const c = new pg.Client({ connectionString: url(port, db) });
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}
const du = (path) => Number(execFileSync('du', ['-sk', path], { encoding: 'utf8' }).split('\t')[0]) / 1024;
/** Resident memory (MiB, Pss where the kernel gives it: shared pages counted once) of a server's processes. */
function serverMemory(dataDir) {
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const pids = [pid];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const ppid = Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
      if (ppid === pid) pids.push(Number(p));
    } catch {}
  }
  let kb = 0;
  for (const p of pids) {
    try {
      const m = /^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
    } catch {}
  }
  return kb / 1024;
}
const settings = ['shared_preload_libraries=pg_stat_statements'];
const SCHEMA = Array.from(
  { length: 20 },
  (_, i) =>
    `CREATE TABLE t${i} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, at timestamptz DEFAULT now());
     INSERT INTO t${i} (name) SELECT 'row ' || g FROM generate_series(1, 100) g;`,
).join('\n');

// Design A: one server, a database per branch (CREATE DATABASE … TEMPLATE, as local mode copies).
const aDir = join(root, 'a');
const aPort = await freePort();
const a = await startEmbedded({
  dataDir: aDir,
  port: aPort,
  superuser: 'postgres',
  password,
  settings,
  persistent: false,
  initdbFlags: ['--no-sync'],
});
await sql(aPort, 'postgres', 'CREATE DATABASE parent');
await sql(aPort, 'parent', SCHEMA);
const aMemBase = serverMemory(aDir);
const aTimes = [];
for (let i = 0; i < RUNS; i++) {
  const t = performance.now();
  await sql(aPort, 'postgres', `CREATE DATABASE b${i} TEMPLATE parent`);
  aTimes.push(performance.now() - t);
}
const oidRows = await sql(aPort, 'postgres', "SELECT oid FROM pg_database WHERE datname = 'b0'");
const aDisk = du(join(aDir, 'base', String(oidRows[0].oid)));
const aMem = (serverMemory(aDir) - aMemBase) / RUNS;
await a.stop();

// Design B: a server per branch: the parent's data directory copied while it is stopped (a consistent
// copy without pg_basebackup), then started on its own port.
const bParent = join(root, 'b-parent');
const bPort = await freePort();
const b = await startEmbedded({
  dataDir: bParent,
  port: bPort,
  superuser: 'postgres',
  password,
  settings,
  persistent: true,
  initdbFlags: ['--no-sync'],
});
await sql(bPort, 'postgres', 'CREATE DATABASE neondb');
await sql(bPort, 'neondb', SCHEMA);
await b.stop();
const bCopy = [];
const bStart = [];
const bMem = [];
const servers = [];
for (let i = 0; i < RUNS; i++) {
  const dir = join(root, `b${i}`);
  let t = performance.now();
  execFileSync('cp', ['-a', bParent, dir]); // -a: the owner (postgres, under root) and modes kept
  bCopy.push(performance.now() - t);
  const port = await freePort();
  t = performance.now();
  const s = await startEmbedded({
    dataDir: dir,
    port,
    superuser: 'postgres',
    password,
    settings,
    persistent: true,
  });
  await sql(port, 'neondb', 'SELECT 1');
  bStart.push(performance.now() - t);
  bMem.push(serverMemory(dir));
  servers.push(s);
}
const bDisk = du(join(root, 'b0'));
for (const s of servers) await s.stop();
rmSync(root, { recursive: true, force: true });

const ms = (x) => `${Math.round(x)} ms`;
console.log(`| design | make a branch | idle memory per branch | disk per branch |
| --- | --- | --- | --- |
| database per branch (one server) | ${ms(median(aTimes))} (CREATE DATABASE … TEMPLATE) | ${aMem.toFixed(1)} MiB (none: no process of its own) | ${aDisk.toFixed(1)} MiB |
| server per branch | ${ms(median(bCopy) + median(bStart))} (copy ${ms(median(bCopy))} + start ${ms(median(bStart))}) | ${median(bMem).toFixed(1)} MiB (postmaster and its 5–6 background processes, Pss) | ${bDisk.toFixed(1)} MiB |
(median of ${RUNS}; ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, load ${(await import('node:os')).loadavg()[0].toFixed(1)})`);
