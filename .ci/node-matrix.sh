#!/usr/bin/env bash
# Runs the test suite on more Node.js versions than the one CI runs on (default: 22 and 24).
#
# Each version comes from the npm registry as the prebuilt binary package `node-<platform>-<arch>`
# (what the `node` package's install script would fetch), installed once into a cache folder, and
# runs vitest from the project's own node_modules. Exits non-zero if any version fails or cannot be
# installed.
#
#   NODE_MATRIX="22 24"            versions (major or exact) to test
#   NODE_MATRIX_CACHE=dir          where the binaries go (default .bench-cache/node, gitignored)
#   NODE_MATRIX_TIMEOUT=1500       seconds allowed per version (CI allows 90 minutes in all)
#   NODE_MATRIX_ARGS="test/x.ts"   extra arguments for `vitest run` (e.g. to run some files only)
set -uo pipefail
cd "$(dirname "$0")/.."

versions=${NODE_MATRIX:-"22 24"}
cache=${NODE_MATRIX_CACHE:-.bench-cache/node}
per_version_timeout=${NODE_MATRIX_TIMEOUT:-1500}
platform_arch=$(node -p 'process.platform + "-" + process.arch')
pkg="node-${platform_arch}"
mkdir -p "$cache"

# The newest published version of package $pkg matching a major (or the exact version given).
resolve() {
  local want=$1
  if [[ $want == *.*.* ]]; then echo "$want"; return; fi
  npm view "$pkg" versions --json 2>/dev/null | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const want = process.argv[1];
      const all = JSON.parse(s).filter((v) => v.startsWith(want + ".") && !v.includes("-"));
      all.sort((a, b) => { const p = a.split(".").map(Number), q = b.split(".").map(Number); return p[1] - q[1] || p[2] - q[2]; });
      if (!all.length) process.exit(1);
      console.log(all.at(-1));
    });' "$want"
}

failed=()
for want in $versions; do
  version=$(resolve "$want") || { echo "node-matrix: no $pkg $want in the npm registry" >&2; failed+=("$want (not in the registry)"); continue; }
  dir="$cache/$version"
  bin="$dir/node_modules/$pkg/bin/node"
  if [ ! -x "$bin" ]; then
    echo "node-matrix: installing $pkg@$version into $dir"
    mkdir -p "$dir"
    if ! npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$pkg@$version" >/dev/null; then
      failed+=("$version (install failed)")
      continue
    fi
  fi
  echo "node-matrix: Node.js $("$bin" --version): vitest run"
  # The child processes the tests spawn (the stdio test) use the same binary: process.execPath.
  if timeout "$per_version_timeout" env PATH="$(dirname "$bin"):$PATH" "$bin" node_modules/vitest/vitest.mjs run ${NODE_MATRIX_ARGS:-}; then
    echo "node-matrix: Node.js $version passed"
  else
    failed+=("$version")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "node-matrix: FAILED on: ${failed[*]}" >&2
  exit 1
fi
echo "node-matrix: all passed ($versions)"
