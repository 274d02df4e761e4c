// Preloaded by `npm start` (node -r) before dist/index.js: a checkout whose build is missing or older
// than its sources says so on stderr in one line instead of being rebuilt on every start (which took
// ≈ 40 s on 2 cores). A missing build stops here (node's own "Cannot find module" says less); a stale
// one still starts, so a client is not left without a server over an edit in progress.
// CommonJS and synchronous: it must finish before the ES module entry point is loaded.
const { readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
let built;
try {
  // tsc rewrites every output on each build, so the entry point's time is the build's time (the
  // oldest file in dist/ would not be: a file removed from src/ leaves its old output behind).
  built = statSync(join(root, 'dist', 'index.js')).mtimeMs;
} catch {
  process.stderr.write('neon-mcp: dist/ is missing: run npm run build\n');
  process.exit(1);
}
let newest = 0;
for (const name of readdirSync(join(root, 'src'), { recursive: true })) {
  const time = statSync(join(root, 'src', String(name))).mtimeMs;
  if (time > newest) newest = time;
}
if (newest > built) process.stderr.write('neon-mcp: dist/ is older than src/: run npm run build\n');
