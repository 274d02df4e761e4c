#!/usr/bin/env node
/**
 * `npm run conformance`: the MCP conformance suite's generic server scenarios against the built
 * server, reproducibly from the repository, on any supported Node.js.
 *
 * 1. Installs @modelcontextprotocol/conformance (SUITE_VERSION, its whole tree pinned by
 *    scripts/conformance-lock.json) into .bench-cache/conformance/ with `npm ci`.
 * 2. The suite imports `fs.globSync`, which Node 20 lacks: when this Node is older than 22 it runs
 *    the suite on a Node 22 binary (NODE_VERSION) from the npm registry's `node-<platform>-<arch>`
 *    package, cached in .bench-cache/node/ exactly as .ci/node-matrix.sh does (the two share it).
 *    The server under test still runs on this Node. Nothing in the suite is patched.
 * 3. Builds neon-mcp (bench/lib.mjs: tsc and the tool schemas, copied to .bench-cache/ours), starts
 *    the fake Neon API on loopback HTTP (test/mock/http-server.ts, one seeded project, requests
 *    validated against Neon's OpenAPI description) and scripts/conformance-bridge.mjs around the
 *    built stdio server: no real key, nothing leaves the machine.
 * 4. Runs each scenario, prints one line per scenario and a closing count, and exits 1 when one
 *    fails, when the server sent a request the Neon API would not accept, or when it wrote anything
 *    but JSON to stdout.
 *
 *   CONFORMANCE_URL=http://127.0.0.1:3000/mcp   test that server instead (nothing built or started)
 *   CONFORMANCE_SCENARIOS="ping tools-list"     other scenarios (default: SCENARIOS below)
 *   CONFORMANCE_NODE=/path/to/node              a Node >= 22 for the suite (no download)
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { buildOurs, CACHE, loadMock, OURS_DIR, ROOT } from '../bench/lib.mjs';
import { startBridge } from './conformance-bridge.mjs';

const SUITE_VERSION = '0.1.16';
const NODE_VERSION = '22.23.5';
/**
 * The generic server scenarios: they check the protocol itself, not the suite's fixture server. The
 * other server scenarios call tools, resources and prompts only that fixture has (`test_simple_text`,
 * `test://static-text`, …). `completion-complete` is one of those (see docs/TESTING.md): it asks to
 * complete `arg1` of the fixture's prompt `test_prompt_with_arguments`, which neon-mcp answers with
 * the spec's invalid-params error.
 */
const SCENARIOS = [
  'server-initialize',
  'ping',
  'tools-list',
  'resources-list',
  'prompts-list',
  'logging-set-level',
];
const SUITE_DIR = join(CACHE, 'conformance');
const LOCK = join(ROOT, 'scripts/conformance-lock.json');
const KEY = 'napi_conformance_fake_key_0123456789';

function say(message) {
  process.stderr.write(`[conformance] ${message}\n`);
}

/** The suite's entry point, installed from the lockfile (again only when the lockfile changed). */
function installSuite() {
  const entry = join(SUITE_DIR, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
  const lock = readFileSync(LOCK);
  const stamp = join(SUITE_DIR, '.lock-sha256');
  const digest = createHash('sha256').update(lock).digest('hex');
  if (existsSync(entry) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return entry;
  say(`installing @modelcontextprotocol/conformance@${SUITE_VERSION} into .bench-cache/conformance`);
  rmSync(SUITE_DIR, { recursive: true, force: true });
  mkdirSync(SUITE_DIR, { recursive: true });
  const manifest = {
    name: 'neon-mcp-conformance',
    private: true,
    dependencies: { '@modelcontextprotocol/conformance': SUITE_VERSION },
  };
  writeFileSync(join(SUITE_DIR, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(LOCK, join(SUITE_DIR, 'package-lock.json'));
  execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: SUITE_DIR,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 600_000,
  });
  const installed = JSON.parse(readFileSync(join(dirname(dirname(entry)), 'package.json'), 'utf8')).version;
  if (installed !== SUITE_VERSION) throw new Error(`installed suite is ${installed}, not ${SUITE_VERSION}`);
  writeFileSync(stamp, digest);
  return entry;
}

/** A Node >= 22 to run the suite: this one, CONFORMANCE_NODE, or the pinned binary package. */
function suiteNode() {
  if (Number(process.versions.node.split('.')[0]) >= 22) return process.execPath;
  if (process.env.CONFORMANCE_NODE) return process.env.CONFORMANCE_NODE;
  const pkg = `node-${process.platform}-${process.arch}`;
  const dir = join(CACHE, 'node', NODE_VERSION);
  const bin = join(dir, 'node_modules', pkg, 'bin/node');
  if (!existsSync(bin)) {
    say(`Node ${process.versions.node} lacks fs.globSync: installing ${pkg}@${NODE_VERSION} into ${dir}`);
    mkdirSync(dir, { recursive: true });
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        dir,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        `${pkg}@${NODE_VERSION}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 },
    );
  }
  return bin;
}

/** Every checks.json under dir (the suite writes one per scenario run). */
function readChecks(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name === 'checks.json')
      out.push(...JSON.parse(readFileSync(join(e.parentPath ?? e.path, e.name), 'utf8')));
  }
  return out;
}

/** Runs one scenario; resolves to { ok, checks, output }. */
function runScenario(node, entry, url, scenario, outDir) {
  return new Promise((resolve) => {
    const child = spawn(node, [entry, 'server', '--url', url, '--scenario', scenario, '-o', outDir], {
      cwd: SUITE_DIR,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill(), 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      let checks = [];
      try {
        checks = readChecks(outDir);
      } catch {}
      const failed = checks.filter((c) => c.status === 'FAILURE');
      // A scenario passes when the suite says so and it recorded a success and no failure.
      const ok = code === 0 && failed.length === 0 && checks.some((c) => c.status === 'SUCCESS');
      resolve({ ok, checks, output, code });
    });
  });
}

async function main() {
  const started = Date.now();
  const scenarios = process.env.CONFORMANCE_SCENARIOS?.split(/[\s,]+/).filter(Boolean) ?? SCENARIOS;
  const entry = installSuite();
  const node = suiteNode();
  say(`suite and Node ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const suiteNodeVersion = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();

  let url = process.env.CONFORMANCE_URL;
  let mock;
  let bridge;
  const outRoot = join(SUITE_DIR, 'results');
  rmSync(outRoot, { recursive: true, force: true });
  mkdirSync(outRoot, { recursive: true });
  const serverLog = openSync(join(outRoot, 'server-stderr.log'), 'w');
  if (!url) {
    let t = Date.now();
    buildOurs();
    say(`built in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    t = Date.now();
    const mockLib = await loadMock();
    say(`mock compiled in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    mock = await mockLib.startMockHttpServer({ validate: true });
    // One project, so resources/list lists a project resource beside the docs index.
    mock.api.fake.seedProject('conformance');
    bridge = await startBridge({
      entry: join(OURS_DIR, 'dist/index.js'),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        NEON_API_KEY: KEY,
        NEON_API_URL: mock.baseUrl,
        // No scenario reads the docs; if one did, it would reach the loopback fake (a 404), not the web.
        NEON_MCP_DOCS_URL: mock.origin,
      },
      // The server's stderr goes to a file beside the results, for when a scenario fails.
      stderr: serverLog,
    });
    url = bridge.url;
    say(`neon-mcp on Node ${process.versions.node} over the stdio bridge at ${url}`);
  } else say(`testing ${url}`);
  say(`suite @modelcontextprotocol/conformance ${SUITE_VERSION} on Node ${suiteNodeVersion.slice(1)}`);

  const results = [];
  try {
    for (const scenario of scenarios) {
      const t = Date.now();
      const r = await runScenario(node, entry, url, scenario, join(outRoot, scenario));
      results.push({ scenario, ...r });
      const counts = ['SUCCESS', 'FAILURE', 'WARNING'].map(
        (s) => `${r.checks.filter((c) => c.status === s).length} ${s.toLowerCase()}`,
      );
      console.log(`${r.ok ? 'PASS' : 'FAIL'} ${scenario} (${counts.join(', ')}; ${Date.now() - t} ms)`);
      if (!r.ok) {
        for (const c of r.checks.filter((c) => c.status === 'FAILURE'))
          console.log(`     ${c.name}: ${c.errorMessage ?? c.description}`);
        if (!r.checks.length) console.log(r.output.trim().replace(/^/gm, '     '));
      }
    }
  } finally {
    await bridge?.close();
    await mock?.close();
    closeSync(serverLog);
  }
  const violations = mock?.api.violations ?? [];
  for (const v of violations) console.log(`FAIL request not valid against the Neon API: ${v}`);
  const notJson = bridge?.notJson ?? [];
  for (const line of notJson) console.log(`FAIL not JSON-RPC on the server's stdout: ${line}`);
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  say(`results in .bench-cache/conformance/results; ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
  console.log(`conformance: ${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 || violations.length > 0 || notJson.length > 0 ? 1 : 0;
}

await main();
