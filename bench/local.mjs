#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
/**
 * `npm run bench:local`: how long local mode (`neon-mcp --local`) takes to create a branch of a 10 MB and
 * a 200 MB database, through its API (POST /projects/{id}/branches: roles, the copy, ownership handed
 * to the branch's roles), and what the copy alone costs with each of PostgreSQL's ways to make it
 * (CREATE DATABASE … STRATEGY WAL_LOG, the default since PostgreSQL 15; FILE_COPY with
 * file_copy_method = copy; FILE_COPY with file_copy_method = clone, which local mode uses).
 *
 * PostgreSQL is the embedded one, with its default durability settings (fsync on), in a temporary
 * directory under .bench-cache/. Results go to the `bench:local` section of docs/BENCHMARKS.md.
 *
 * It first runs bench/local-diff.mjs: the schema diff's time and memory on a 1,000-table schema.
 *
 *   BENCH_RUNS=5          branch creations per size (median reported)
 *   BENCH_LOCAL_ONLY=diff the schema diff only
 *   BENCH_LOCAL_DIR=A,B   where data directories go, one measurement each (default .bench-cache/),
 *                         e.g. also a file system with reflinks (XFS, Btrfs) to see what clone gains
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { buildOurs, CACHE, log, machine, median, writeSection } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SIZES_MB = [10, 200];

buildOurs();
// First the schema diff on a 1,000-table schema (a process of its own: its memory is measured).
execFileSync(process.execPath, [fileURLToPath(new URL('local-diff.mjs', import.meta.url))], {
  stdio: 'inherit',
});
if (process.env.BENCH_LOCAL_ONLY === 'diff') process.exit(0);
const { startEmbedded, freePort } = await import('../dist/local/postgres.js');
const { startLocal } = await import('../dist/local/index.js');
const { canReflink } = await import('../dist/local/cluster.js');

const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
const STRATEGIES = [
  ['WAL_LOG', [], 'WAL_LOG'],
  ['FILE_COPY, copy', ['SET file_copy_method = copy'], 'FILE_COPY'],
  ['FILE_COPY, clone', ['SET file_copy_method = clone'], 'FILE_COPY'],
];

async function sql(url, text) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows;
  } finally {
    await c.end();
  }
}

function fsTypeOf(dir) {
  try {
    const magic = statfsSync(dir).type;
    return (
      { 61267: 'ext4', 2435016766: 'btrfs', 1481003842: 'xfs', 16914836: 'tmpfs' }[magic] ??
      `0x${magic.toString(16)}`
    );
  } catch {
    return 'unknown';
  }
}

/** Branch creation and the three copy strategies, for each size, with the data directory under `parent`. */
async function measure(parent) {
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, 'local-bench-'));
  // As root PostgreSQL runs as `postgres`, which must be able to enter the directory.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = 'bench-superuser-pw';
  log(`starting PostgreSQL in ${dir}`);
  const server = await startEmbedded({
    dataDir: join(dir, 'pg'),
    port,
    superuser: 'postgres',
    password,
    persistent: false,
    settings: ['listen_addresses=127.0.0.1', 'unix_socket_directories='],
  });
  const adminUrl = `postgresql://postgres:${password}@127.0.0.1:${port}/postgres?sslmode=disable`;
  const admin = (database) => {
    const u = new URL(adminUrl);
    u.pathname = `/${database}`;
    return u.toString();
  };
  // What `neon-mcp --local DIR` decides for DIR: reflink copies where its file system makes them.
  const clone = canReflink(dir);
  const local = await startLocal({ postgresUrl: adminUrl, clone });
  const api = async (method, path, body) => {
    const res = await fetch(`${local.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${local.apiKey}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json.message}`);
    return json;
  };
  const out = { fs: fsTypeOf(dir), clone, sizes: [] };
  try {
    for (const mb of SIZES_MB) {
      const { project, connection_uris } = await api('POST', '/projects', {
        project: { name: `bench-${mb}mb` },
      });
      const uri = connection_uris[0].connection_uri;
      const physical = connection_uris[0].connection_parameters.database;
      // ~1 KB a row (a 992-character text and an int), then an index: pages as a real table has them.
      const rows = Math.round((mb * 1024 * 1024) / 1200);
      await sql(
        uri,
        `CREATE TABLE t AS SELECT g AS id, repeat(md5(g::text), 31) AS body FROM generate_series(1, ${rows}) g`,
      );
      await sql(uri, 'CREATE INDEX ON t (id)');
      const [{ size }] = await sql(uri, 'SELECT pg_database_size(current_database())::bigint AS size');
      log(`${out.fs}, ${mb} MB: database of ${(Number(size) / 1048576).toFixed(1)} MiB`);

      const branchMs = [];
      for (let i = 0; i < RUNS; i++) {
        await sql(admin('postgres'), 'CHECKPOINT');
        const t0 = performance.now();
        const { branch } = await api('POST', `/projects/${project.id}/branches`, {
          branch: { name: `b${i}` },
          endpoints: [{ type: 'read_write' }],
        });
        branchMs.push(performance.now() - t0);
        await api('DELETE', `/projects/${project.id}/branches/${branch.id}`);
      }

      const strategies = {};
      for (const [label, setup, strategy] of STRATEGIES) {
        const times = [];
        for (let i = 0; i < RUNS; i++) {
          const c = new pg.Client({ connectionString: admin('postgres') });
          await c.connect();
          try {
            await c.query('CHECKPOINT');
            for (const s of setup) await c.query(s);
            const t0 = performance.now();
            await c.query(`CREATE DATABASE bench_copy TEMPLATE "${physical}" STRATEGY = ${strategy}`);
            times.push(performance.now() - t0);
            await c.query('DROP DATABASE bench_copy');
          } finally {
            await c.end();
          }
        }
        strategies[label] = median(times);
      }
      out.sizes.push({
        mb,
        bytes: Number(size),
        branchMs: median(branchMs),
        branchAll: branchMs,
        strategies,
      });
      await api('DELETE', `/projects/${project.id}`);
    }
  } finally {
    await local.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const parents = (process.env.BENCH_LOCAL_DIR || CACHE).split(',').filter(Boolean);
const results = { machine: await machine(), date: new Date().toISOString(), runs: RUNS, dirs: [] };
for (const parent of parents) results.dirs.push(await measure(parent));
writeFileSync(join(CACHE, 'bench-local.json'), JSON.stringify(results, null, 2));

const lines = [
  `Run ${results.date} on ${results.machine}; medians of ${RUNS} runs, each after a CHECKPOINT. ` +
    'Local mode copies with FILE_COPY, clone where the file system makes reflinks and the database has ' +
    '100 MiB or more, otherwise with the default WAL_LOG.',
  '',
  '| file system | data (database size) | create_branch through the local API | copy only: WAL_LOG | FILE_COPY, copy | FILE_COPY, clone |',
  '| --- | --- | --- | --- | --- | --- |',
  ...results.dirs.flatMap((d) =>
    d.sizes.map((s) => {
      const st = STRATEGIES.map(([label]) => fmt(s.strategies[label]));
      return `| ${d.fs}${d.clone ? ' (reflinks)' : ''} | ${s.mb} MB (${(s.bytes / 1048576).toFixed(0)} MiB) | ${fmt(s.branchMs)} | ${st.join(' | ')} |`;
    }),
  ),
];
writeSection('bench:local', lines.join('\n'));
