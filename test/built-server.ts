/**
 * The built command under test, for the files that spawn it (stdio.test.ts, transport.test.ts, and
 * without the fake local.test.ts and database-url.test.ts): the
 * tree is built once per file the way `npm run build` does (tsc, then the precomputed tool schemas,
 * which a stale copy would advertise wrongly), into a directory of this file's own under
 * .bench-cache/ — never the shared dist/, which others rebuild while tests run, and which two test
 * files building at once would half-write. A build that fails fails the file: a dist/ emitted from
 * code that does not type-check is not what anybody ships. Children run `node dist/index.js` with
 * that directory as cwd (dist/version.js reads ../package.json; node_modules is found by walking up).
 *
 * Neon is the loopback fake (real HTTP), reset before each test; every request it saw must be valid
 * against Neon's API description.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { type MockHttpServer, startMockHttpServer } from './mock/http-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Relative to {@link BuiltServer.runDir}, which children get as their cwd. */
export const ENTRY = 'dist/index.js';

export interface BuiltServer {
  /** The directory holding dist/ and package.json: the cwd of every child. */
  runDir: string;
  /** The loopback fake of Neon, from the moment it is started (use it inside tests and hooks). */
  mock: MockHttpServer;
}

/**
 * The built command alone, for files that spawn it without the Neon fake (local mode, --database-url):
 * built once for the file into a private directory, removed after it. Returns that directory.
 */
export function useBuild(name: string): string {
  const runDir = join(ROOT, '.bench-cache', `${name}-${process.pid}`);
  const build = (args: string[], cwd: string) => {
    try {
      execFileSync(process.execPath, args, { cwd, stdio: 'pipe' });
    } catch (error) {
      const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(
        `build step failed: node ${args.join(' ')}\n${String(stdout ?? '')}${String(stderr ?? '')}`,
      );
    }
  };
  beforeAll(() => {
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(join(runDir, 'scripts'), { recursive: true });
    build(['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--outDir', join(runDir, 'dist')], ROOT);
    // The schema script writes next to itself (../dist): run a copy of it in the private directory.
    copyFileSync(join(ROOT, 'scripts', 'build-schemas.mjs'), join(runDir, 'scripts', 'build-schemas.mjs'));
    build(['scripts/build-schemas.mjs'], runDir);
    copyFileSync(join(ROOT, 'package.json'), join(runDir, 'package.json'));
    expect(existsSync(join(runDir, ENTRY))).toBe(true);
    expect(existsSync(join(runDir, 'dist', 'tool-schemas.json'))).toBe(true);
  }, 180_000);
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
