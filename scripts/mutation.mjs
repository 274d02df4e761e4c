#!/usr/bin/env node
/**
 * `npm run mutation [module…]`: StrykerJS over the modules that carry the guarantees, one part after
 * the other (parts, modules and their test files: stryker.config.mjs). A module name (`sql`) runs its
 * parts; a part name (`sql-guard`) runs that part. Incremental: only mutants in changed code, or
 * covered by changed tests, are run again. `-- --force` reruns everything; other Stryker flags pass
 * through (`-- client --mutate src/client/rate-limiter.ts`). Not in CI: too slow for two cores.
 * Ends with the score of each module run, from the parts' JSON reports. Exits non-zero when a
 * Stryker run fails (not when a score is low; read the report).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { GROUPS, MODULES } from '../stryker.config.mjs';

const args = process.argv.slice(2);
// Module and part names select what runs; anything else goes to Stryker as is (`--force`, `--mutate a.ts`).
const chosen = [];
const flags = [];
for (const [i, arg] of args.entries()) {
  if (arg in GROUPS || arg in MODULES) chosen.push(arg);
  else if (arg.startsWith('-') || args[i - 1]?.startsWith('-')) flags.push(arg);
  else {
    const known = [...new Set([...Object.keys(GROUPS), ...Object.keys(MODULES)])];
    console.error(`Unknown module "${arg}". Known: ${known.join(', ')}.`);
    process.exit(2);
  }
}
const partsOf = (name) => GROUPS[name] ?? [name];
const everything = Object.keys(MODULES);
const names = [...new Set((chosen.length ? chosen : everything).flatMap(partsOf))];
/** Whether any of a part's patterns can match: the part before the first wildcard exists. */
const present = (patterns) => patterns.some((p) => !p.startsWith('!') && existsSync(p.split('*')[0] || '.'));
for (const name of names) {
  if (!present(MODULES[name].mutate)) {
    console.error(`\n=== mutation testing: ${name}: no ${MODULES[name].mutate[0]}, skipped ===`);
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

// Scores as Stryker counts them: killed and timed out over those plus survived and not covered
// (ignored and static mutants, compile and run-time errors left out).
const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);
const rows = [];
// Without names: every module, a grouped one once under its module's name.
const grouped = new Set(Object.values(GROUPS).flat());
const shown = chosen.length ? chosen : [...Object.keys(GROUPS), ...everything.filter((p) => !grouped.has(p))];
for (const name of shown) {
  let detected = 0;
  let valid = 0;
  const missing = [];
  for (const part of partsOf(name)) {
    const file = `reports/mutation/${part}.json`;
    if (!existsSync(file)) {
      missing.push(part);
      continue;
    }
    for (const result of Object.values(JSON.parse(readFileSync(file, 'utf8')).files)) {
      for (const mutant of result.mutants) {
        if (DETECTED.has(mutant.status)) detected++;
        if (DETECTED.has(mutant.status) || UNDETECTED.has(mutant.status)) valid++;
      }
    }
  }
  const score = valid ? `${((100 * detected) / valid).toFixed(1)} %` : '-';
  rows.push(
    `${name.padEnd(18)} ${String(valid).padStart(5)} mutants  ${score.padStart(7)}` +
      (missing.length ? `  (no report yet: ${missing.join(', ')})` : ''),
  );
}
console.error(`\n=== mutation scores ===\n${rows.join('\n')}`);
