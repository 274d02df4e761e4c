#!/usr/bin/env node
/**
 * The `neon-mcp` command. Before anything else is loaded, the V8 settings that keep its resident
 * memory low at no cost that matters for a server making a few requests a second
 * (see docs/BENCHMARKS.md):
 * - a young generation that does not grow during start-up (the server allocates little);
 * - WebAssembly kept at its baseline tier: Node's fetch parses HTTP with a WebAssembly module, and
 *   optimising it costs ~25 MiB of code for no measurable gain at this request rate; PostgreSQL's
 *   parser (libpg-query, loaded on the first SQL call) is WebAssembly too, and on Node 24 optimising
 *   it took ≈ 550 MB of compiler memory (V8's Turboshaft, loop unrolling) on a background thread
 *   during the next SQL call: a peak RSS of 620–720 MB instead of 100–190 MB (docs/BENCHMARKS.md,
 *   "Size cases");
 * - JavaScript kept at its baseline tiers (interpreter and Sparkplug, `--max-opt=1`), with V8's
 *   memory-over-speed choices (`--optimize-for-size`): the optimising compilers' code and zones were
 *   ≈ 5 MB of resident memory at start and ≈ 3 MB more over the first hundred calls, and the server's
 *   CPU time per call did not change; JavaScript that walks large data is slower (a 60 MB SQL value:
 *   ≈ 1.5 s more in one measurement; docs/BENCHMARKS.md, "Memory").
 *
 * Set at run time, `--liftoff-only` alone no longer stops tier-up on Node 24: its implications
 * (no dynamic tiering, no tier-up) are applied only when flags are read at start-up, so they are set
 * here explicitly. Node 20 and 22 know the same flags.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
setFlagsFromString('--liftoff-only');
setFlagsFromString('--no-wasm-dynamic-tiering');
setFlagsFromString('--no-wasm-tier-up');
setFlagsFromString('--max-opt=1');
setFlagsFromString('--optimize-for-size');
const { main } = await import('./cli.js');
main();
