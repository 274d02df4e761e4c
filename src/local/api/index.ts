/**
 * A local stand-in for the part of Neon's API v2 that the SQL, schema, migration and branch tools need,
 * answering from one real PostgreSQL server: projects, branches (a new branch is a copy of its parent's
 * databases at that moment), computes (the server itself, under a name per branch), databases, roles
 * (real login roles with real passwords), connection URIs that connect, schemas and operations. The
 * answers have Neon's shapes (test/local-api.test.ts validates them against spec/neon-openapi-v2.json);
 * every other route answers 400 with a message naming local mode.
 *
 * One file per resource beside this one; ./core.ts holds what they share. Served over HTTP on a loopback
 * port by {@link serveLocalApi} (./http.ts), so the unchanged client and tools reach it exactly as they
 * reach Neon.
 */
import type { Doc } from '../catalog.js';
import { branchRoutes } from './branches.js';
import { computeRoutes } from './computes.js';
import { type LocalApiOptions, LocalCore } from './core.js';
import { databaseRoutes } from './databases.js';
import { operationRoutes } from './operations.js';
import { createProject, projectRoutes } from './projects.js';
import { restoreRoutes } from './restore.js';
import { roleRoutes } from './roles.js';
import { schemaRoutes } from './schema.js';

export { LocalApiError, type LocalApiOptions } from './core.js';
export { type LocalApiServer, serveLocalApi } from './http.js';

export class LocalNeon extends LocalCore {
  constructor(opts: LocalApiOptions) {
    super(opts);
    for (const routes of [
      projectRoutes,
      branchRoutes,
      restoreRoutes,
      computeRoutes,
      databaseRoutes,
      roleRoutes,
      operationRoutes,
      schemaRoutes,
    ])
      routes(this);
  }

  /** The project's first branch with its compute, database and owner role (the first start's `local`). */
  createProject(body: Doc): Promise<[number, Doc]> {
    return createProject(this, body);
  }
}
