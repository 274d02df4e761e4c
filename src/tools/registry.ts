/**
 * The one list of tools, every module loaded: for tests, the build (scripts/build-schemas.mjs writes
 * each tool's metadata and JSON Schemas from it) and the documentation. The server itself selects
 * from the metadata and loads a module on first use (src/tools/catalog.ts, which holds the rules).
 */
import { anonymizationTools } from './anonymization.js';
import { apiKeyTools } from './api-keys.js';
import { authTools } from './auth.js';
import { billingTools } from './billing.js';
import { branchTools } from './branches.js';
import {
  DEFAULT_TOOLSETS,
  type Listed,
  type Selection,
  selectFrom,
  validateSelectionOf,
  whyHidden,
} from './catalog.js';
import { computeTools } from './computes.js';
import { connectionTools } from './connection.js';
import { dataApiTools } from './data-api.js';
import { databaseTools } from './databases.js';
import type { ToolDef } from './framework.js';
import { functionTools } from './functions.js';
import { docsTools } from './neon-docs.js';
import { networkingTools } from './networking.js';
import { operationTools } from './operations.js';
import { organizationTools } from './organizations.js';
import { projectTools } from './projects.js';
import { roleTools } from './roles.js';
import { safetyTools } from './safety.js';
import { schemaTools } from './schema.js';
import { snapshotTools } from './snapshots.js';
import { sqlTools } from './sql.js';
import { storageTools } from './storage.js';
import { userTools } from './users.js';

export const ALL_TOOLS: readonly ToolDef[] = [
  ...projectTools,
  ...branchTools,
  ...computeTools,
  ...databaseTools,
  ...roleTools,
  ...connectionTools,
  ...operationTools,
  ...sqlTools,
  ...schemaTools,
  ...safetyTools,
  ...snapshotTools,
  ...anonymizationTools,
  ...organizationTools,
  ...apiKeyTools,
  ...billingTools,
  ...userTools,
  ...networkingTools,
  ...authTools,
  ...dataApiTools,
  ...storageTools,
  ...functionTools,
  ...docsTools,
];

export { DEFAULT_TOOLSETS, type Selection, whyHidden };

/** Throws with a message listing valid names when a toolset or tool name is unknown. */
export function validateSelection(sel: Selection, all: readonly Listed[] = ALL_TOOLS): void {
  validateSelectionOf(all, sel);
}

/** The tools a server exposes under `sel`, with `list_toolsets` and `enable_toolsets` first. */
export function selectTools(sel: Selection): ToolDef[] {
  return selectFrom(ALL_TOOLS, sel);
}
