// Writes dist/tool-schemas.json: the advertised JSON Schema of every tool, computed once at build
// time so the server does not convert zod schemas at start-up (see loadPrecomputedSchemas).
import { writeFileSync } from 'node:fs';
import * as z from 'zod';
import { leanJson } from '../dist/tools/json-schema.js';
import { selectTools } from '../dist/tools/registry.js';

const out = {};
for (const tool of selectTools({ toolsets: ['all'] })) {
  out[tool.name] = {
    input: leanJson(z.strictObject(tool.input), 'input'),
    output: leanJson(tool.output, 'output'),
  };
}
writeFileSync(new URL('../dist/tool-schemas.json', import.meta.url), JSON.stringify(out));
console.error(`dist/tool-schemas.json: ${Object.keys(out).length} tools`);
