// Rewrites the tool reference in README.md from the built tool definitions (run `npm run docs`).
import { readFileSync, writeFileSync } from 'node:fs';
import { withToolTable } from '../dist/tools/docs.js';
import { ALL_TOOLS } from '../dist/tools/registry.js';

const path = new URL('../README.md', import.meta.url);
writeFileSync(path, withToolTable(readFileSync(path, 'utf8'), ALL_TOOLS));
console.error(`README.md: ${ALL_TOOLS.length} tools`);
