import type { ToolDef } from './framework.js';

// Filled in by the work on this resource.
export const anonymizationTools: ToolDef[] = [];
