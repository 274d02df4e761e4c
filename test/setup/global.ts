/**
 * Once per vitest run (vitest.config.ts's globalSetup): a directory of this run under .bench-cache/
 * where the built command is made at most once, by the first test file that needs it
 * (test/built-server.ts, `builtTree`), and used by every other; removed when the run ends. A run of
 * files that spawn nothing builds nothing. Its name carries this process's id, so runs from other
 * worktrees or at the same time in this one never share it.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run's build directory (see test/built-server.ts). */
    buildDir: string;
  }
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export default function setup(project: TestProject): () => void {
  const dir = join(ROOT, '.bench-cache', `suite-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  project.provide('buildDir', dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
