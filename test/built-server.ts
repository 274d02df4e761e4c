/**
 * The built command under test, for the files that spawn it (stdio.test.ts, transport.test.ts,
 * http.test.ts and http-lb.test.ts through http-run.ts, and without the fake local.test.ts and
 * database-url.test.ts): the tree is built once per run the way `npm run build` does (tsc, then the
 * precomputed tool schemas, which a stale copy would advertise wrongly), into the run's directory
 * under .bench-cache/ — never the shared dist/, which package.test.ts's `npm pack` rebuilds while
 * tests run — and each file gets a copy of its own. A build that fails fails every file that needs
 * it: a dist/ emitted from code that does not type-check is not what anybody ships. Children run
 * `node dist/index.js` with that directory as cwd (dist/version.js reads ../package.json;
 * node_modules is found by walking up).
 *
 * Neon is the loopback fake (real HTTP), reset before each test; every request it saw must be valid
 * against Neon's API description.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, expect, inject } from 'vitest';
import { type MockHttpServer, startMockHttpServer } from './mock/http-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Relative to {@link BuiltServer.runDir}, which children get as their cwd. */
export const ENTRY = 'dist/index.js';
/** tsc on a busy two-core machine. */
const BUILD_TIMEOUT_MS = 180_000;

export interface BuiltServer {
  /** The directory holding dist/ and package.json: the cwd of every child. */
  runDir: string;
  /** The loopback fake of Neon, from the moment it is started (use it inside tests and hooks). */
  mock: MockHttpServer;
}

/**
 * The built tree of this vitest run: made once, by the first file that asks, in the run's directory
 * (test/setup/global.ts) and shared by all: a directory holding dist/ (tsc, then the precomputed
 * schemas) and package.json. Files of one run ask from several worker processes at once: the first to
 * create `lock` builds, the others wait for `built` (or `failed`, whose text they throw). Outside a
 * run with the global setup (none provided), a directory of this process's own.
 */
export function builtTree(): string {
  const dir = inject('buildDir') ?? join(ROOT, '.bench-cache', `build-${process.pid}`);
  const built = join(dir, 'built');
  const failed = join(dir, 'failed');
  try {
    mkdirSync(join(dir, 'lock'), { recursive: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    for (const deadline = Date.now() + BUILD_TIMEOUT_MS; !existsSync(built); ) {
      if (existsSync(failed)) throw new Error(readFileSync(failed, 'utf8'));
      if (Date.now() > deadline) throw new Error(`the run's build in ${dir} did not finish`);
      // Synchronous, like the build itself: callers are plain beforeAll hooks and http-run's buildRunDir.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
    return dir;
  }
  const step = (args: string[], cwd: string) => {
    try {
      execFileSync(process.execPath, args, { cwd, stdio: 'pipe' });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(
        `build step failed: node ${args.join(' ')}\n${String(stdout ?? '')}${String(stderr ?? '')}`,
      );
    }
  };
  try {
    mkdirSync(join(dir, 'scripts'), { recursive: true });
    step(['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--outDir', join(dir, 'dist')], ROOT);
    // The schema script writes next to itself (../dist): run a copy of it in the build directory.
    copyFileSync(join(ROOT, 'scripts', 'build-schemas.mjs'), join(dir, 'scripts', 'build-schemas.mjs'));
    step(['scripts/build-schemas.mjs'], dir);
    copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    writeFileSync(built, '');
  } catch (error) {
    writeFileSync(failed, error instanceof Error ? error.message : String(error));
    throw error;
  }
  return dir;
}

/** A private copy of the run's built tree in `.bench-cache/<name>-<pid>/` (files may write into it). */
export function copyOfBuild(name: string): string {
  const from = builtTree();
  const runDir = join(ROOT, '.bench-cache', `${name}-${process.pid}`);
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  cpSync(join(from, 'dist'), join(runDir, 'dist'), { recursive: true });
  copyFileSync(join(from, 'package.json'), join(runDir, 'package.json'));
  return runDir;
}

/**
 * The built command alone, for files that spawn it without the Neon fake (local mode, --database-url):
 * a copy of the run's build in a directory of the file's own, removed after it. Returns that directory.
 */
export function useBuild(name: string): string {
  const runDir = join(ROOT, '.bench-cache', `${name}-${process.pid}`);
  beforeAll(() => {
    expect(copyOfBuild(name)).toBe(runDir);
    expect(existsSync(join(runDir, ENTRY))).toBe(true);
    expect(existsSync(join(runDir, 'dist', 'tool-schemas.json'))).toBe(true);
  }, BUILD_TIMEOUT_MS + 30_000);
  afterAll(() => rmSync(runDir, { recursive: true, force: true }));
  return runDir;
}

export function useBuiltServer(name: string): BuiltServer {
  const runDir = useBuild(name);
  let server: MockHttpServer | undefined;
  const running = (): MockHttpServer => {
    if (!server)
      throw new Error('The loopback Neon fake is not started yet: use it inside a test or a hook.');
    return server;
  };
  beforeAll(async () => {
    server = await startMockHttpServer({ validate: true });
  });
  afterAll(async () => {
    await server?.close();
  });
  beforeEach(() => running().api.reset());
  afterEach(() => {
    expect(running().api.violations, 'requests not valid against the Neon API spec').toEqual([]);
  });
  const mock: MockHttpServer = {
    get api() {
      return running().api;
    },
    get baseUrl() {
      return running().baseUrl;
    },
    get origin() {
      return running().origin;
    },
    close: () => running().close(),
  };
  return { runDir, mock };
}
