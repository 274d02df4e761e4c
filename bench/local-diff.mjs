#!/usr/bin/env node
/**
 * Part of `npm run bench:local` (also `node bench/local-diff.mjs` alone): local mode's schema diff
 * (compare_schema, the migration tools' diff) on a 1,000-table schema. The schema is made on the
 * embedded PostgreSQL 18 (1,000 tables of 6 columns with a primary key, a unique constraint, an index
 * and, for every second table, a foreign key to the one before, plus 100 views), read as local mode
 * reads it (dumpSchema), then one column is added to one table and it is read again. The diff of the
 * two texts (unifiedDiff, the `diff` package) runs in a fresh Node process, so that its time and its
 * memory (peak RSS above the process's own before it, and the heap it allocates) are the diff's alone.
 * Results go to the `bench:local-diff` section of docs/BENCHMARKS.md.
 *
 *   BENCH_RUNS=5   diffs timed (median reported)
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { buildOurs, fmt, log, machine, writeSection } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TABLES = 1000;
const VIEWS = 100;

buildOurs();
const { startEmbedded, freePort } = await import('../dist/local/postgres.js');
const { dumpSchema } = await import('../dist/local/schema-text.js');

// In the system's temporary directory, open to the `postgres` user PostgreSQL runs as under root.
const root = mkdtempSync(join(tmpdir(), 'neon-mcp-diff-bench-'));
chmodSync(root, 0o755);
const password = 'bench-diff';
const port = await freePort();
log(`starting PostgreSQL in ${root}`);
const server = await startEmbedded({
  dataDir: join(root, 'pg'),
  port,
  superuser: 'postgres',
  password,
  persistent: false,
  settings: ['listen_addresses=127.0.0.1', 'unix_socket_directories=', 'fsync=off'],
  initdbFlags: ['--no-sync'],
});
const client = new pg.Client({
  connectionString: `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`,
});
await client.connect();
let before;
let after;
let dumpMs;
try {
  log(`making ${TABLES} tables and ${VIEWS} views`);
  const ddl = [];
  for (let i = 0; i < TABLES; i++) {
    const t = `t${String(i).padStart(4, '0')}`;
    const prev = `t${String(i - 1).padStart(4, '0')}`;
    ddl.push(
      `CREATE TABLE ${t} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, email text UNIQUE,
         created_at timestamptz NOT NULL DEFAULT now(), amount numeric(12,2) DEFAULT 0, parent_id bigint
         ${i % 2 && i > 0 ? `REFERENCES ${prev} (id)` : ''});
       CREATE INDEX ${t}_created ON ${t} (created_at);`,
    );
  }
  for (let i = 0; i < VIEWS; i++)
    ddl.push(
      `CREATE VIEW v${i} AS SELECT id, name FROM t${String(i * 10).padStart(4, '0')} WHERE amount > ${i};`,
    );
  await client.query(ddl.join('\n'));
  const query = async (sql) => (await client.query(sql)).rows;
  const t = performance.now();
  before = await dumpSchema(query);
  dumpMs = performance.now() - t;
  await client.query('ALTER TABLE t0500 ADD COLUMN note text');
  after = await dumpSchema(query);
} finally {
  await client.end();
  await server.stop();
}
const a = join(root, 'a.sql');
const b = join(root, 'b.sql');
writeFileSync(a, before);
writeFileSync(b, after);

// The diff alone, in a process of its own.
const child = `
import { readFileSync } from 'node:fs';
const { unifiedDiff } = await import(${JSON.stringify(new URL('../dist/local/schema-text.js', import.meta.url).href)});
const a = readFileSync(${JSON.stringify(a)}, 'utf8');
const b = readFileSync(${JSON.stringify(b)}, 'utf8');
const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
unifiedDiff('x', 'y', 'a', 'b'); // the library loaded and warm before anything is counted
globalThis.gc?.();
const rssBefore = hwm();
const heapBefore = process.memoryUsage().heapUsed;
const times = [];
let out = '';
for (let i = 0; i < ${RUNS}; i++) {
  const t = performance.now();
  out = unifiedDiff(a, b, 'neondb (main)', 'neondb (br)');
  times.push(performance.now() - t);
  if (i === 0) globalThis.__heap = process.memoryUsage().heapUsed - heapBefore;
}
times.sort((x, y) => x - y);
console.log(JSON.stringify({ times, median: times[Math.floor(times.length / 2)], rss: hwm() - rssBefore, heap: globalThis.__heap, chars: out.length, hunks: (out.match(/^@@/gm) ?? []).length, out }));
`;
const res = JSON.parse(
  execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', child], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  }),
);
rmSync(root, { recursive: true, force: true });

const lines = before.split('\n').length;
log(
  `diff: ${fmt.ms(res.median)}, +${fmt.mb(res.rss)} peak RSS, ${res.chars} characters, ${res.hunks} hunk(s)`,
);
writeSection(
  'bench:local-diff',
  [
    `Run ${new Date().toISOString()} on ${await machine()}.`,
    '',
    '| schema | its text (dumpSchema) | read by dumpSchema | change | diff time (median of ' +
      RUNS +
      ') | peak RSS added by the diff | heap allocated by one diff | diff answered |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    `| ${TABLES} tables, ${VIEWS} views | ${lines.toLocaleString('en-US')} lines, ${fmt.kib(Buffer.byteLength(before))} | ${fmt.ms(dumpMs)} | one added column | ${fmt.ms(res.median)} | ${fmt.mb(res.rss)} | ${fmt.mb(res.heap)} | ${res.chars.toLocaleString('en-US')} characters, ${res.hunks} hunk |`,
    '',
    'The diff answered:',
    '',
    '```diff',
    res.out,
    '```',
  ].join('\n'),
);
