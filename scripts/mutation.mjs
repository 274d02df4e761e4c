#!/usr/bin/env node
/**
 * `npm run mutation [module…]`: StrykerJS over the modules that carry the guarantees, one after the
 * other (modules and their test files: stryker.config.mjs). Incremental: only mutants in changed code,
 * or covered by changed tests, are run again. `-- --force` reruns everything; other Stryker flags pass through (`-- client --mutate src/client/rate-limiter.ts`). Not in CI: too slow for
 * two cores. Exits non-zero when a Stryker run fails (not when a score is low; read the report).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { MODULES } from '../stryker.config.mjs';

const args = process.argv.slice(2);
// Module names select modules; anything else goes to Stryker as is (`--force`, `--mutate a.ts`).
const chosen = [];
const flags = [];
for (const [i, arg] of args.entries()) {
  if (arg in MODULES) chosen.push(arg);
  else if (arg.startsWith('-') || args[i - 1]?.startsWith('-')) flags.push(arg);
  else {
    console.error(`Unknown module "${arg}". Known: ${Object.keys(MODULES).join(', ')}.`);
    process.exit(2);
  }
}
const names = chosen.length ? chosen : Object.keys(MODULES);
/** Whether any of a module's patterns can match: the part before the first wildcard exists. */
const present = (patterns) => patterns.some((p) => !p.startsWith('!') && existsSync(p.split('*')[0] || '.'));
for (const name of names) {
  // A module that does not exist yet (src/neon/) would make Stryker dry-run its tests for nothing.
  if (!present(MODULES[name].mutate)) {
    console.error(`\n=== mutation testing: ${name}: no ${MODULES[name].mutate[0]} yet, skipped ===`);
    continue;
  }
  console.error(`\n=== mutation testing: ${name} (${MODULES[name].mutate.join(' ')}) ===`);
  const res = spawnSync(
    process.execPath,
    ['node_modules/@stryker-mutator/core/bin/stryker.js', 'run', 'stryker.config.mjs', ...flags],
    { stdio: 'inherit', env: { ...process.env, STRYKER_MODULE: name } },
  );
  if (res.status !== 0) process.exit(res.status ?? 1);
}
