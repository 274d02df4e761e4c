#!/usr/bin/env node
/**
 * The `neon-mcp` command. Before anything else is loaded, V8 is told not to grow its young
 * generation during start-up: the server allocates little, and a fixed small nursery keeps its
 * resident memory several MiB lower at no measurable cost in speed (see docs/BENCHMARKS.md).
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
await import('./cli.js');
