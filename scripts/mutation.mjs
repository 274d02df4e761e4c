#!/usr/bin/env node
/**
 * `npm run mutation [module…]`: StrykerJS over the modules that carry the guarantees, one after the
 * other (modules and their test files: stryker.config.mjs). Incremental: only mutants in changed code,
 * or covered by changed tests, are run again. `-- --force` reruns everything. Not in CI: too slow for
 * two cores. Exits non-zero when a Stryker run fails (not when a score is low; read the report).
 */
import { spawnSync } from 'node:child_process';
import { MODULES } from '../stryker.config.mjs';

const args = process.argv.slice(2);
const flags = args.filter((a) => a.startsWith('-'));
const chosen = args.filter((a) => !a.startsWith('-'));
const names = chosen.length ? chosen : Object.keys(MODULES);
for (const name of names) {
  if (!(name in MODULES)) {
    console.error(`Unknown module "${name}". Known: ${Object.keys(MODULES).join(', ')}.`);
    process.exit(2);
  }
}
for (const name of names) {
  console.error(`\n=== mutation testing: ${name} (${MODULES[name].mutate.join(' ')}) ===`);
  const res = spawnSync(
    process.execPath,
    ['node_modules/@stryker-mutator/core/bin/stryker.js', 'run', 'stryker.config.mjs', ...flags],
    { stdio: 'inherit', env: { ...process.env, STRYKER_MODULE: name } },
  );
  if (res.status !== 0) process.exit(res.status ?? 1);
}
