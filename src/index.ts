#!/usr/bin/env node
/**
 * The `neon-mcp` command. Before anything else is loaded, two V8 settings that keep its resident
 * memory low at no cost that matters for a server making a few requests a second
 * (see docs/BENCHMARKS.md):
 * - a young generation that does not grow during start-up (the server allocates little);
 * - WebAssembly kept at its baseline tier: Node's fetch parses HTTP with a WebAssembly module, and
 *   optimising it costs ~25 MiB of code for no measurable gain at this request rate.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
setFlagsFromString('--liftoff-only');
await import('./cli.js');
