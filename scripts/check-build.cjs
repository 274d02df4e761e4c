// Preloaded by `npm start` (node -r) before dist/index.js: a checkout whose build is missing or older
// than its sources says so on stderr in one line instead of being rebuilt on every start (which took
// ≈ 40 s on 2 cores). A missing build stops here (node's own "Cannot find module" says less); a stale
// one still starts, so a client is not left without a server over an edit in progress.
// Run directly (`node scripts/check-build.cjs --build`, npm's `pretest`), it builds only when the build
// is missing or stale: `npm ci` has just built (the `prepare` script), and building again cost ≈ 45 s.
// CommonJS and synchronous: it must finish before the ES module entry point is loaded.
const { readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');

/** 'missing', 'stale' or 'fresh': dist/ against src/ and the build's own inputs. */
function buildState() {
  let built;
  try {
    // tsc rewrites every output on each build, so the entry point's time is the build's time (the
    // oldest file in dist/ would not be: a file removed from src/ leaves its old output behind).
    built = statSync(join(root, 'dist', 'index.js')).mtimeMs;
  } catch {
    return 'missing';
  }
  // The build's own inputs count too (absent from a copy that has only src/ and dist/).
  let newest = Math.max(
    ...['tsconfig.json', 'scripts/build-schemas.mjs'].map(
      (f) => statSync(join(root, f), { throwIfNoEntry: false })?.mtimeMs ?? 0,
    ),
  );
  for (const name of readdirSync(join(root, 'src'), { recursive: true })) {
    const time = statSync(join(root, 'src', String(name))).mtimeMs;
    if (time > newest) newest = time;
  }
  return newest > built ? 'stale' : 'fresh';
}

if (require.main === module && process.argv.includes('--build')) {
  if (buildState() !== 'fresh') {
    const { status } = require('node:child_process').spawnSync('npm', ['run', 'build', '--silent'], {
      cwd: root,
      stdio: 'inherit',
    });
    process.exit(status ?? 1);
  }
} else {
  const state = buildState();
  if (state === 'missing') {
    process.stderr.write('neon-mcp: dist/ is missing: run npm run build\n');
    process.exit(1);
  }
  if (state === 'stale') process.stderr.write('neon-mcp: dist/ is older than src/: run npm run build\n');
}
