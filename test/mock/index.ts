/**
 * The one list of the fake's handlers. Each resource file `test/mock/<resource>.ts` is named after the
 * src/tools file it serves and exports one factory `(fake: NeonFake) => RequestHandler[]`; every
 * factory here is always installed, by `useMockApi` (test/helpers.ts) and by `MockNeonApi`
 * (http-server.ts) alike. Per-test changes go through `api.use(...)`, tried before this list.
 *
 * Order matters only where two routes match the same path: msw takes the first handler that answers.
 * Each file keeps its own literal routes ahead of its parameterised ones (`/projects/shared` before
 * `/projects/:project_id`), and no operation is served by two files: test/fake.test.ts checks both.
 */
import type { RequestHandler } from 'msw';
import { anonymizationHandlers } from './anonymization.js';
import { apiKeyHandlers } from './api-keys.js';
import { authHandlers } from './auth.js';
import { billingHandlers } from './billing.js';
import { branchHandlers } from './branches.js';
import { computeHandlers } from './computes.js';
import { connectionHandlers } from './connection.js';
import { dataApiHandlers } from './data-api.js';
import { databaseHandlers } from './databases.js';
import { functionHandlers } from './functions.js';
import type { NeonFake } from './neon-fake.js';
import { networkingHandlers } from './networking.js';
import { operationHandlers } from './operations.js';
import { organizationHandlers } from './organizations.js';
import { projectHandlers } from './projects.js';
import { roleHandlers } from './roles.js';
import { schemaHandlers } from './schema.js';
import { snapshotHandlers } from './snapshots.js';
import { storageHandlers } from './storage.js';
import { userHandlers } from './users.js';

export type HandlerFactory = (fake: NeonFake) => RequestHandler[];

/** Every resource of the fake, in the order of src/tools/registry.ts. */
export const RESOURCES: readonly HandlerFactory[] = [
  projectHandlers,
  branchHandlers,
  computeHandlers,
  databaseHandlers,
  roleHandlers,
  connectionHandlers,
  operationHandlers,
  schemaHandlers,
  snapshotHandlers,
  anonymizationHandlers,
  organizationHandlers,
  apiKeyHandlers,
  billingHandlers,
  userHandlers,
  networkingHandlers,
  authHandlers,
  dataApiHandlers,
  storageHandlers,
  functionHandlers,
];

/** The handlers of every resource, bound to one fake. */
export function fakeHandlers(fake: NeonFake): RequestHandler[] {
  return RESOURCES.flatMap((factory) => factory(fake));
}
