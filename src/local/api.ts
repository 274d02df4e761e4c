/**
 * A local stand-in for the part of Neon's API v2 that the SQL, schema, migration and branch tools need,
 * answering from one real PostgreSQL server: projects, branches (a new branch is a copy of its parent's
 * databases at that moment), computes (the server itself, under a name per branch), databases, roles
 * (real login roles with real passwords), connection URIs that connect, schemas and operations. The
 * answers have Neon's shapes (test/local-api.test.ts validates them against spec/neon-openapi-v2.json);
 * every other route answers 501 with a message naming local mode.
 *
 * Served over HTTP on a loopback port by {@link serveLocalApi}, so the unchanged client and tools reach it
 * exactly as they reach Neon.
 */
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Catalog, Doc } from './catalog.js';
import { type Cluster, physicalName } from './cluster.js';
import { dumpSchema, unifiedDiff } from './schema-text.js';

/** An answer other than 200: the status and Neon's error body. */
export class LocalApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code = status === 404 ? 'NOT_FOUND' : status === 409 ? 'CONFLICT' : 'BAD_REQUEST',
  ) {
    super(message);
  }
}

export interface LocalApiOptions {
  catalog: Catalog;
  cluster: Cluster;
  /** Host, port and query (e.g. `?sslmode=disable`) of the connection URIs handed out. */
  connect: { host: string; port: number; search: string };
  /** Called before a branch's database is copied: closes this process's pools to that branch. */
  beforeCopy?: (branchId: string) => Promise<void>;
}

type Params = Record<string, string>;
interface Request {
  params: Params;
  query: URLSearchParams;
  body: Doc;
}
type Handler = (req: Request) => Promise<[number, Doc]> | [number, Doc];

const REGION = 'local';
const PROVISIONER = 'k8s-neonvm';
const now = () => new Date().toISOString();
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const password = () => `npg_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;

/** Neon's objects without the fields local mode keeps for itself (`_physical`, `_password`, `_tag`). */
/** A branch's annotation as Neon answers it (AnnotationData). */
function annotationOf(branch: Doc): Doc {
  return {
    object: { type: 'console/branch', id: branch.id },
    value: branch._annotations ?? {},
    ...(branch._annotations ? { created_at: branch.created_at, updated_at: branch.created_at } : {}),
  };
}

function visible(doc: Doc): Doc {
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('_')));
}

export class LocalNeon {
  private readonly routes: { method: string; regex: RegExp; names: string[]; handler: Handler }[] = [];
  private readonly operations = new Map<string, Doc>();
  /** Changes run one at a time: each touches both the catalog and the server. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: LocalApiOptions) {
    this.define();
  }

  private get catalog(): Catalog {
    return this.opts.catalog;
  }
  private get cluster(): Cluster {
    return this.opts.cluster;
  }

  /** Answers one request: `path` relative to `/api/v2`. */
  async handle(method: string, path: string, query: URLSearchParams, body: Doc): Promise<[number, Doc]> {
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const m = r.regex.exec(path);
      if (!m) continue;
      const params: Params = {};
      r.names.forEach((n, i) => {
        params[n] = decodeURIComponent(m[i + 1]);
      });
      const run = () => r.handler({ params, query, body });
      // Other neon-mcp processes on the same server share the catalog: read it afresh, and make
      // changes one at a time across all of them.
      if (method === 'GET') return this.catalog.refresh().then(run);
      const change = () => this.catalog.exclusive(async () => run());
      const result = this.queue.then(change, change);
      this.queue = result.catch(() => undefined);
      return result;
    }
    // 400, not 501: the client retries a 5xx and would call it a server error.
    throw new LocalApiError(
      400,
      'not available in local mode (neon-mcp --local), which covers projects, branches, computes, ' +
        'databases, roles, connection URIs, schemas and operations; this needs a Neon account: start ' +
        'neon-mcp without --local and with NEON_API_KEY',
      'NOT_SUPPORTED_IN_LOCAL_MODE',
    );
  }

  private on(method: string, template: string, handler: Handler): void {
    const names: string[] = [];
    const pattern = template.replace(/\{([a-z_]+)\}/g, (_m, n) => {
      names.push(n);
      return '([^/]+)';
    });
    this.routes.push({ method, regex: new RegExp(`^${pattern}$`), names, handler });
  }

  // ---- lookups ----

  private project(id: string): Doc {
    const p = this.catalog.items.project.get(id);
    if (!p) throw new LocalApiError(404, `project ${id} not found`);
    return p;
  }
  private branch(projectId: string, id: string): Doc {
    this.project(projectId);
    const b = this.catalog.items.branch.get(id);
    if (!b || b.project_id !== projectId) throw new LocalApiError(404, `branch ${id} not found`);
    return b;
  }
  private branchesOf(projectId: string): Doc[] {
    return this.catalog.list('branch', (b) => b.project_id === projectId);
  }
  private endpointsOf(projectId: string, branchId?: string): Doc[] {
    return this.catalog.list(
      'endpoint',
      (e) => e.project_id === projectId && (!branchId || e.branch_id === branchId),
    );
  }
  private databasesOf(branchId: string): Doc[] {
    return this.catalog.list('database', (d) => d.branch_id === branchId).sort((a, b) => a.id - b.id);
  }
  private rolesOf(branchId: string): Doc[] {
    return this.catalog.list('role', (r) => r.branch_id === branchId);
  }
  private database(branchId: string, name: string): Doc {
    const d = this.catalog.items.database.get(`${branchId}/${name}`);
    if (!d) throw new LocalApiError(404, `database ${name} not found on branch ${branchId}`);
    return d;
  }
  private role(branchId: string, name: string): Doc {
    const r = this.catalog.items.role.get(`${branchId}/${name}`);
    if (!r) throw new LocalApiError(404, `role ${name} not found on branch ${branchId}`);
    return r;
  }

  // ---- operations ----

  /** The work is done by the time the answer is sent: operations are finished from the start. */
  private ops(projectId: string, actions: { action: string; branch_id?: string; endpoint_id?: string }[]) {
    return actions.map((a) => {
      const t = now();
      const op = {
        id: randomUUID(),
        project_id: projectId,
        ...a,
        status: 'finished',
        failures_count: 0,
        created_at: t,
        updated_at: t,
        total_duration_ms: 0,
      };
      this.operations.set(op.id, op);
      return op;
    });
  }

  // ---- makers ----

  private tag(): string {
    for (;;) {
      const t = hex(4);
      if (!this.catalog.list('branch', (b) => b._tag === t).length) return t;
    }
  }

  private async makeProject(body: Doc): Promise<Doc> {
    const t = now();
    const name = String(body.name ?? 'local');
    const slug =
      name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '')
        .slice(0, 30) || 'project';
    const id = `${slug}-${hex(4)}`;
    return this.catalog.put('project', id, {
      id,
      platform_id: 'local',
      region_id: REGION,
      name,
      pg_version: body.pg_version ?? (await this.serverMajor()),
      proxy_host: this.opts.connect.host,
      branch_logical_size_limit: 0,
      branch_logical_size_limit_bytes: 0,
      store_passwords: true,
      cpu_used_sec: 0,
      active_time: 0,
      active_time_seconds: 0,
      compute_time_seconds: 0,
      written_data_bytes: 0,
      data_transfer_bytes: 0,
      data_storage_bytes_hour: 0,
      consumption_period_start: t,
      consumption_period_end: t,
      provisioner: PROVISIONER,
      creation_source: 'neon-mcp --local',
      history_retention_seconds: 0,
      owner_id: 'local',
      settings: {},
      ...(body.org_id ? { org_id: body.org_id } : {}),
      created_at: t,
      updated_at: t,
    });
  }

  private major: number | undefined;
  private async serverMajor(): Promise<number> {
    if (this.major === undefined) {
      const { rows } = await this.cluster.pool.query<{ v: string }>(
        "SELECT current_setting('server_version_num') AS v",
      );
      this.major = Math.floor(Number(rows[0].v) / 10000);
    }
    return this.major;
  }

  private async makeBranch(projectId: string, fields: Doc): Promise<Doc> {
    const t = now();
    const tag = this.tag();
    const id = `br-${tag.slice(0, 4)}-${tag.slice(4)}`;
    return this.catalog.put('branch', id, {
      id,
      project_id: projectId,
      name: fields.name ?? id,
      current_state: 'ready',
      state_changed_at: t,
      creation_source: 'neon-mcp --local',
      default: false,
      protected: false,
      cpu_used_sec: 0,
      active_time_seconds: 0,
      compute_time_seconds: 0,
      written_data_bytes: 0,
      data_transfer_bytes: 0,
      logical_size: 0,
      ...fields,
      created_at: t,
      updated_at: t,
      _tag: tag,
    });
  }

  private async makeEndpoint(branch: Doc, type = 'read_write'): Promise<Doc> {
    const t = now();
    const id = `ep-${branch._tag.slice(0, 4)}-${branch._tag.slice(4)}${type === 'read_write' ? '' : `-${hex(2)}`}`;
    return this.catalog.put('endpoint', id, {
      id,
      host: this.opts.connect.host,
      project_id: branch.project_id,
      branch_id: branch.id,
      region_id: REGION,
      autoscaling_limit_min_cu: 0.25,
      autoscaling_limit_max_cu: 0.25,
      type,
      current_state: 'active',
      pooler_enabled: false,
      pooler_mode: 'transaction',
      disabled: false,
      passwordless_access: false,
      creation_source: 'neon-mcp --local',
      settings: {},
      proxy_host: this.opts.connect.host,
      suspend_timeout_seconds: 0,
      provisioner: PROVISIONER,
      created_at: t,
      updated_at: t,
    });
  }

  private async makeRole(branch: Doc, name: string, pw = password()): Promise<Doc> {
    this.checkName(name, 'role');
    if (this.catalog.items.role.has(`${branch.id}/${name}`))
      throw new LocalApiError(409, `role ${name} already exists on branch ${branch.id}`);
    const physical = physicalName(name, branch._tag);
    await this.cluster.createRole(physical, pw);
    for (const d of this.databasesOf(branch.id)) await this.cluster.grantConnect(d._physical, physical);
    const t = now();
    return this.catalog.put('role', `${branch.id}/${name}`, {
      branch_id: branch.id,
      name,
      protected: false,
      created_at: t,
      updated_at: t,
      _physical: physical,
      _password: pw,
    });
  }

  private nextDatabaseId(): number {
    return Math.max(0, ...this.catalog.list('database').map((d) => Number(d.id))) + 1;
  }

  private async makeDatabase(branch: Doc, name: string, owner: string): Promise<Doc> {
    this.checkName(name, 'database');
    if (this.catalog.items.database.has(`${branch.id}/${name}`))
      throw new LocalApiError(409, `database ${name} already exists on branch ${branch.id}`);
    const ownerRole = this.role(branch.id, owner);
    const physical = physicalName(name, branch._tag);
    await this.cluster.createDatabase(
      physical,
      ownerRole._physical,
      this.rolesOf(branch.id).map((r) => r._physical),
    );
    return this.putDatabase(branch, name, owner, physical);
  }

  private putDatabase(branch: Doc, name: string, owner: string, physical: string): Promise<Doc> {
    const t = now();
    return this.catalog.put('database', `${branch.id}/${name}`, {
      id: this.nextDatabaseId(),
      branch_id: branch.id,
      name,
      owner_name: owner,
      created_at: t,
      updated_at: t,
      _physical: physical,
    });
  }

  private checkName(name: unknown, what: string): asserts name is string {
    if (typeof name !== 'string' || !name || name.length > 63 || /[\0]/.test(name))
      throw new LocalApiError(400, `${what} name must be 1 to 63 characters`);
  }

  private uri(database: Doc, role: Doc): string {
    const { host, port, search } = this.opts.connect;
    return (
      `postgresql://${encodeURIComponent(role._physical)}:${encodeURIComponent(role._password)}` +
      `@${host}:${port}/${encodeURIComponent(database._physical)}${search}`
    );
  }

  private connectionUris(branch: Doc): Doc[] {
    return this.databasesOf(branch.id).map((d) => {
      const role = this.role(branch.id, d.owner_name);
      return {
        connection_uri: this.uri(d, role),
        connection_parameters: {
          database: d._physical,
          password: role._password,
          role: role._physical,
          host: this.opts.connect.host,
          pooler_host: this.opts.connect.host,
        },
      };
    });
  }

  /** The project's first branch with its compute, database and owner role. */
  async createProject(body: Doc): Promise<[number, Doc]> {
    const project = await this.makeProject(body);
    const spec = body.branch ?? {};
    const branch = await this.makeBranch(project.id, { name: spec.name ?? 'main', default: true });
    const endpoint = await this.makeEndpoint(branch);
    const role = await this.makeRole(branch, spec.role_name ?? 'neondb_owner');
    const database = await this.makeDatabase(branch, spec.database_name ?? 'neondb', role.name);
    return [
      201,
      {
        project: visible(project),
        branch: visible(branch),
        endpoints: [visible(endpoint)],
        databases: [visible(database)],
        roles: [{ ...visible(role), password: role._password }],
        operations: this.ops(project.id, [
          { action: 'create_timeline', branch_id: branch.id },
          { action: 'start_compute', branch_id: branch.id, endpoint_id: endpoint.id },
        ]),
        connection_uris: this.connectionUris(branch),
      },
    ];
  }

  /** Removes a branch's computes, databases and roles, on the server and in the catalog. */
  private async dropBranch(branch: Doc): Promise<void> {
    for (const d of this.databasesOf(branch.id)) {
      await this.cluster.dropDatabase(d._physical);
      await this.catalog.remove('database', `${branch.id}/${d.name}`);
    }
    // Roles made with SQL on the branch (create_role's limited roles) are cluster-wide here, unlike on
    // Neon: they go with the branch, unless a database of another branch still refers to them.
    const known = new Set(this.catalog.list('role').map((r) => r._physical));
    for (const name of await this.cluster.madeBy(this.rolesOf(branch.id).map((r) => r._physical)))
      if (!known.has(name)) await this.cluster.dropRole(name).catch(() => undefined);
    for (const r of this.rolesOf(branch.id)) {
      await this.cluster.dropRole(r._physical);
      await this.catalog.remove('role', `${branch.id}/${r.name}`);
    }
    for (const e of this.endpointsOf(branch.project_id, branch.id))
      await this.catalog.remove('endpoint', e.id);
    await this.catalog.remove('branch', branch.id);
  }

  /**
   * A child branch: the parent's roles again (same names and passwords, new login roles on the server),
   * then a copy of each of the parent's databases, whose objects are handed to the new roles.
   */
  private async createBranch(projectId: string, body: Doc): Promise<[number, Doc]> {
    const spec = body.branch ?? {};
    for (const field of ['parent_lsn', 'parent_timestamp', 'init_source'] as const) {
      if (spec[field] !== undefined && !(field === 'init_source' && spec[field] === 'parent-data'))
        throw new LocalApiError(
          400,
          `branch.${field} is not available in local mode (neon-mcp --local): a branch is a copy of its parent as it is now.`,
        );
    }
    const branches = this.branchesOf(projectId);
    const parent = spec.parent_id ? this.branch(projectId, spec.parent_id) : branches.find((b) => b.default);
    if (!parent) throw new LocalApiError(400, `project ${projectId} has no default branch to branch from`);
    if (spec.name && branches.some((b) => b.name === spec.name))
      throw new LocalApiError(409, `branch ${spec.name} already exists`);
    const branch = await this.makeBranch(projectId, {
      name: spec.name,
      parent_id: parent.id,
      parent_timestamp: now(),
      ...(spec.protected !== undefined ? { protected: Boolean(spec.protected) } : {}),
      ...(spec.expires_at ? { expires_at: spec.expires_at } : {}),
      // Kept as given and answered on get and list, as Neon does: pending migrations and tunings keep
      // their record there (src/neon/pending.ts).
      ...(body.annotation_value ? { _annotations: { ...body.annotation_value } } : {}),
    });
    const endpoints: Doc[] = [];
    try {
      await this.copyFromParent(branch, parent);
      for (const e of (body.endpoints as Doc[] | undefined) ?? []) {
        if (e.type === 'read_write' && endpoints.some((x) => x.type === 'read_write'))
          throw new LocalApiError(400, 'a branch can have one read_write compute');
        endpoints.push(await this.makeEndpoint(branch, e.type ?? 'read_write'));
      }
    } catch (e) {
      await this.dropBranch(branch).catch(() => undefined);
      throw e;
    }
    const actions = [
      { action: 'create_branch', branch_id: branch.id },
      ...endpoints.map((e) => ({ action: 'start_compute', branch_id: branch.id, endpoint_id: e.id })),
    ];
    return [
      201,
      {
        branch: visible(branch),
        endpoints: endpoints.map(visible),
        operations: this.ops(projectId, actions),
        roles: this.rolesOf(branch.id).map(visible),
        databases: this.databasesOf(branch.id).map(visible),
        connection_uris: endpoints.length ? this.connectionUris(branch) : [],
      },
    ];
  }

  /**
   * The parent's roles the branch lacks (same names and passwords, new login roles on the server), then
   * a copy of each of the parent's databases, whose objects are handed to the branch's roles.
   */
  private async copyFromParent(branch: Doc, parent: Doc): Promise<void> {
    for (const r of this.rolesOf(parent.id))
      if (!this.catalog.items.role.has(`${branch.id}/${r.name}`))
        await this.makeRole(branch, r.name, r._password);
    const pairs = this.rolesOf(parent.id).map((r) => ({
      from: r._physical,
      to: this.role(branch.id, r.name)._physical,
    }));
    const roles = this.rolesOf(branch.id).map((r) => r._physical);
    for (const d of this.databasesOf(parent.id)) {
      const physical = physicalName(d.name, branch._tag);
      await this.cluster.copyDatabase(
        d._physical,
        physical,
        this.role(branch.id, d.owner_name)._physical,
        roles,
        () => this.opts.beforeCopy?.(parent.id) ?? Promise.resolve(),
      );
      await this.putDatabase(branch, d.name, d.owner_name, physical);
      await this.cluster.reassign(
        physical,
        pairs,
        this.databasesOf(parent.id).map((x) => x._physical),
      );
    }
  }

  /**
   * Reset from parent (Neon's restore with the parent as source, at its head): the branch's databases
   * are dropped and its parent's copied again, as a new branch gets them; its roles and computes stay.
   * Restoring to a point in time, from another branch, or keeping the old state under a name needs
   * Neon's history, which local mode does not have.
   */
  private async restoreBranch(projectId: string, branchId: string, body: Doc): Promise<[number, Doc]> {
    const b = this.branch(projectId, branchId);
    const unsupported = ['source_lsn', 'source_timestamp', 'preserve_under_name'].filter(
      (f) => body[f] !== undefined,
    );
    if (unsupported.length || !b.parent_id || body.source_branch_id !== b.parent_id)
      throw new LocalApiError(
        400,
        `restore is not available in local mode (neon-mcp --local) except as a reset from the branch's parent as it is now (source_branch_id = its parent_id${b.parent_id ? `, ${b.parent_id}` : '; this branch has none'}, without ${unsupported.length ? unsupported.join(', ') : 'source_lsn, source_timestamp or preserve_under_name'}); the rest needs a Neon account`,
        'NOT_SUPPORTED_IN_LOCAL_MODE',
      );
    const parent = this.branch(projectId, b.parent_id);
    const child = this.branchesOf(projectId).find((x) => x.parent_id === b.id);
    if (child)
      throw new LocalApiError(400, `branch ${b.id} has child branches (${child.id}): delete them first`);
    await this.opts.beforeCopy?.(b.id);
    for (const d of this.databasesOf(b.id)) {
      await this.cluster.dropDatabase(d._physical);
      await this.catalog.remove('database', `${b.id}/${d.name}`);
    }
    await this.copyFromParent(b, parent);
    const t = now();
    const updated = await this.catalog.put('branch', b.id, { ...b, parent_timestamp: t, updated_at: t });
    return [
      200,
      {
        branch: visible(updated),
        operations: this.ops(projectId, [{ action: 'create_timeline', branch_id: b.id }]),
      },
    ];
  }

  /** A page of `items` sorted by id: `limit` and `cursor` (the last id of the previous page). */
  private page(items: Doc[], query: URLSearchParams): { items: Doc[]; cursor?: string } {
    const limit = Number(query.get('limit') ?? 0) || items.length;
    const cursor = query.get('cursor');
    const sorted = [...items].sort((a, b) => String(a.id).localeCompare(String(b.id)));
    const after = cursor ? sorted.filter((x) => String(x.id) > cursor) : sorted;
    const items_ = after.slice(0, limit);
    return { items: items_, cursor: items_.at(-1)?.id };
  }

  private async schemaOf(branchId: string, database: string): Promise<string> {
    const d = this.database(branchId, database);
    return this.cluster.query(d._physical, (c) =>
      dumpSchema(async (sql) => (await c.query<{ ddl: string }>(sql)).rows),
    );
  }

  private define(): void {
    const P = '/projects/{project_id}';
    const B = `${P}/branches/{branch_id}`;

    this.on('GET', '/projects', ({ query }) => {
      const search = query.get('search');
      const all = this.catalog.list(
        'project',
        (p) => !search || p.name.includes(search) || p.id.includes(search),
      );
      const { items, cursor } = this.page(all, query);
      return [
        200,
        {
          projects: items.map(visible),
          pagination: { cursor: cursor ?? query.get('cursor') ?? '' },
          applications: {},
          integrations: {},
        },
      ];
    });
    this.on('POST', '/projects', ({ body }) => this.createProject(body.project ?? {}));
    this.on('GET', P, ({ params }) => [200, { project: visible(this.project(params.project_id)) }]);
    this.on('PATCH', P, async ({ params, body }) => {
      const p = this.project(params.project_id);
      const name = body.project?.name;
      const updated = await this.catalog.put('project', p.id, {
        ...p,
        ...(typeof name === 'string' ? { name } : {}),
        updated_at: now(),
      });
      return [200, { project: visible(updated), operations: [] }];
    });
    this.on('DELETE', P, async ({ params }) => {
      const p = this.project(params.project_id);
      // Children first: a database copy's objects never depend on the parent, but roles are dropped
      // branch by branch.
      const branches = this.branchesOf(p.id).sort((a, b) => b.created_at.localeCompare(a.created_at));
      for (const b of branches) await this.dropBranch(b);
      await this.catalog.remove('project', p.id);
      return [200, { project: visible(p) }];
    });

    this.on('GET', `${P}/branches`, ({ params, query }) => {
      this.project(params.project_id);
      const search = query.get('search');
      const all = this.branchesOf(params.project_id).filter(
        (b) => !search || b.name.includes(search) || b.id.includes(search),
      );
      // AnnotationsMapResponse: the annotations of the listed branches that have any, by branch ID.
      const annotations = Object.fromEntries(
        all.filter((b) => b._annotations).map((b) => [b.id, annotationOf(b)]),
      );
      return [200, { branches: all.map(visible), annotations }];
    });
    this.on('GET', `${P}/branches/count`, ({ params }) => {
      this.project(params.project_id);
      return [200, { count: this.branchesOf(params.project_id).length }];
    });
    this.on('POST', `${P}/branches`, ({ params, body }) => {
      this.project(params.project_id);
      return this.createBranch(params.project_id, body);
    });
    this.on('GET', B, ({ params }) => {
      const b = this.branch(params.project_id, params.branch_id);
      return [200, { branch: visible(b), annotation: annotationOf(b) }];
    });
    this.on('PATCH', B, async ({ params, body }) => {
      const b = this.branch(params.project_id, params.branch_id);
      const spec = body.branch ?? {};
      if (spec.name && this.branchesOf(b.project_id).some((x) => x.name === spec.name && x.id !== b.id))
        throw new LocalApiError(409, `branch ${spec.name} already exists`);
      const updated = await this.catalog.put('branch', b.id, {
        ...b,
        ...(spec.name ? { name: spec.name } : {}),
        ...(spec.protected !== undefined ? { protected: Boolean(spec.protected) } : {}),
        ...(spec.expires_at !== undefined ? { expires_at: spec.expires_at ?? undefined } : {}),
        updated_at: now(),
      });
      return [200, { branch: visible(updated), operations: [] }];
    });
    this.on('DELETE', B, async ({ params }) => {
      const b = this.branch(params.project_id, params.branch_id);
      if (b.default)
        throw new LocalApiError(400, `branch ${b.id} is the project's default branch and cannot be deleted`);
      if (b.protected) throw new LocalApiError(400, `branch ${b.id} is protected and cannot be deleted`);
      const child = this.branchesOf(b.project_id).find((x) => x.parent_id === b.id);
      if (child)
        throw new LocalApiError(400, `branch ${b.id} has child branches (${child.id}): delete them first`);
      const endpoints = this.endpointsOf(b.project_id, b.id);
      await this.opts.beforeCopy?.(b.id);
      await this.dropBranch(b);
      return [
        200,
        {
          branch: visible({ ...b, current_state: 'deleted' }),
          operations: this.ops(b.project_id, [
            ...endpoints.map((e) => ({ action: 'suspend_compute', branch_id: b.id, endpoint_id: e.id })),
            { action: 'delete_timeline', branch_id: b.id },
          ]),
        },
      ];
    });
    this.on('POST', `${B}/restore`, ({ params, body }) =>
      this.restoreBranch(params.project_id, params.branch_id, body),
    );
    this.on('POST', `${B}/set_as_default`, async ({ params }) => {
      const b = this.branch(params.project_id, params.branch_id);
      for (const x of this.branchesOf(b.project_id).filter((x) => x.default && x.id !== b.id))
        await this.catalog.put('branch', x.id, { ...x, default: false, updated_at: now() });
      const updated = await this.catalog.put('branch', b.id, { ...b, default: true, updated_at: now() });
      return [200, { branch: visible(updated), operations: [] }];
    });

    const endpoints = ({ params }: Request): [number, Doc] => {
      this.project(params.project_id);
      if (params.branch_id) this.branch(params.project_id, params.branch_id);
      return [200, { endpoints: this.endpointsOf(params.project_id, params.branch_id).map(visible) }];
    };
    this.on('GET', `${B}/endpoints`, endpoints);
    this.on('GET', `${P}/endpoints`, endpoints);
    const endpoint = (params: Params): Doc => {
      this.project(params.project_id);
      const e = this.catalog.items.endpoint.get(params.endpoint_id);
      if (!e || e.project_id !== params.project_id)
        throw new LocalApiError(404, `endpoint ${params.endpoint_id} not found`);
      return e;
    };
    this.on('GET', `${P}/endpoints/{endpoint_id}`, ({ params }) => [
      200,
      { endpoint: visible(endpoint(params)) },
    ]);
    // Starting, suspending or restarting the one local server is not done for a compute: it is always on.
    for (const verb of ['start', 'suspend', 'restart'] as const) {
      this.on('POST', `${P}/endpoints/{endpoint_id}/${verb}`, ({ params }) => {
        const e = endpoint(params);
        const action = verb === 'suspend' ? 'suspend_compute' : 'start_compute';
        return [
          200,
          {
            endpoint: visible(e),
            operations: this.ops(e.project_id, [{ action, branch_id: e.branch_id, endpoint_id: e.id }]),
          },
        ];
      });
    }

    this.on('GET', `${B}/databases`, ({ params }) => {
      this.branch(params.project_id, params.branch_id);
      return [200, { databases: this.databasesOf(params.branch_id).map(visible) }];
    });
    this.on('POST', `${B}/databases`, async ({ params, body }) => {
      const b = this.branch(params.project_id, params.branch_id);
      const spec = body.database ?? {};
      const d = await this.makeDatabase(b, spec.name, spec.owner_name);
      return [
        201,
        {
          database: visible(d),
          operations: this.ops(b.project_id, [{ action: 'apply_config', branch_id: b.id }]),
        },
      ];
    });
    this.on('GET', `${B}/databases/{database_name}`, ({ params }) => {
      this.branch(params.project_id, params.branch_id);
      return [200, { database: visible(this.database(params.branch_id, params.database_name)) }];
    });
    this.on('PATCH', `${B}/databases/{database_name}`, async ({ params, body }) => {
      const b = this.branch(params.project_id, params.branch_id);
      let d = this.database(b.id, params.database_name);
      const spec = body.database ?? {};
      if (spec.owner_name && spec.owner_name !== d.owner_name) {
        const owner = this.role(b.id, spec.owner_name);
        await this.cluster.setOwner(d._physical, owner._physical);
        d = { ...d, owner_name: owner.name };
      }
      if (spec.name && spec.name !== d.name) {
        this.checkName(spec.name, 'database');
        if (this.catalog.items.database.has(`${b.id}/${spec.name}`))
          throw new LocalApiError(409, `database ${spec.name} already exists on branch ${b.id}`);
        await this.opts.beforeCopy?.(b.id);
        const physical = physicalName(spec.name, b._tag);
        await this.cluster.renameDatabase(d._physical, physical);
        await this.catalog.remove('database', `${b.id}/${d.name}`);
        d = { ...d, name: spec.name, _physical: physical };
      }
      d = await this.catalog.put('database', `${b.id}/${d.name}`, { ...d, updated_at: now() });
      return [
        200,
        {
          database: visible(d),
          operations: this.ops(b.project_id, [{ action: 'apply_config', branch_id: b.id }]),
        },
      ];
    });
    this.on('DELETE', `${B}/databases/{database_name}`, async ({ params }) => {
      const b = this.branch(params.project_id, params.branch_id);
      const d = this.database(b.id, params.database_name);
      await this.opts.beforeCopy?.(b.id);
      await this.cluster.dropDatabase(d._physical);
      await this.catalog.remove('database', `${b.id}/${d.name}`);
      return [
        200,
        {
          database: visible(d),
          operations: this.ops(b.project_id, [{ action: 'apply_config', branch_id: b.id }]),
        },
      ];
    });

    this.on('GET', `${B}/roles`, ({ params }) => {
      this.branch(params.project_id, params.branch_id);
      return [200, { roles: this.rolesOf(params.branch_id).map(visible) }];
    });
    this.on('POST', `${B}/roles`, async ({ params, body }) => {
      const b = this.branch(params.project_id, params.branch_id);
      const r = await this.makeRole(b, body.role?.name);
      return [
        201,
        {
          role: { ...visible(r), password: r._password },
          operations: this.ops(b.project_id, [{ action: 'apply_config', branch_id: b.id }]),
        },
      ];
    });
    this.on('GET', `${B}/roles/{role_name}`, ({ params }) => {
      this.branch(params.project_id, params.branch_id);
      return [200, { role: visible(this.role(params.branch_id, params.role_name)) }];
    });
    this.on('DELETE', `${B}/roles/{role_name}`, async ({ params }) => {
      const b = this.branch(params.project_id, params.branch_id);
      const r = this.role(b.id, params.role_name);
      const owns = this.databasesOf(b.id).filter((d) => d.owner_name === r.name);
      if (owns.length)
        throw new LocalApiError(
          409,
          `role ${r.name} owns database ${owns.map((d) => d.name).join(', ')}: give the database another owner or delete it first`,
        );
      // Objects and privileges of the role in the branch's databases go with it, as on Neon.
      for (const d of this.databasesOf(b.id)) {
        await this.cluster.query(d._physical, (c) => c.query(`DROP OWNED BY ${quote(r._physical)}`));
      }
      await this.cluster.dropRole(r._physical);
      await this.catalog.remove('role', `${b.id}/${r.name}`);
      return [
        200,
        {
          role: visible(r),
          operations: this.ops(b.project_id, [{ action: 'apply_config', branch_id: b.id }]),
        },
      ];
    });
    this.on('GET', `${B}/roles/{role_name}/reveal_password`, ({ params }) => {
      this.branch(params.project_id, params.branch_id);
      return [200, { password: this.role(params.branch_id, params.role_name)._password }];
    });
    this.on('POST', `${B}/roles/{role_name}/reset_password`, async ({ params }) => {
      const b = this.branch(params.project_id, params.branch_id);
      const r = this.role(b.id, params.role_name);
      const pw = password();
      await this.cluster.setPassword(r._physical, pw);
      const updated = await this.catalog.put('role', `${b.id}/${r.name}`, {
        ...r,
        _password: pw,
        updated_at: now(),
      });
      return [
        200,
        {
          role: { ...visible(updated), password: pw },
          operations: this.ops(b.project_id, [{ action: 'apply_config', branch_id: b.id }]),
        },
      ];
    });

    this.on('GET', `${P}/connection_uri`, ({ params, query }) => {
      const p = this.project(params.project_id);
      const branchId = query.get('branch_id') ?? this.branchesOf(p.id).find((b) => b.default)?.id ?? '';
      const b = this.branch(p.id, branchId);
      const endpointId = query.get('endpoint_id');
      if (endpointId && !this.endpointsOf(p.id, b.id).some((e) => e.id === endpointId))
        throw new LocalApiError(404, `endpoint ${endpointId} not found on branch ${b.id}`);
      const d = this.database(b.id, query.get('database_name') ?? '');
      const r = this.role(b.id, query.get('role_name') ?? '');
      return [200, { uri: this.uri(d, r) }];
    });

    this.on('GET', `${P}/operations`, ({ params }) => {
      this.project(params.project_id);
      const ops = [...this.operations.values()].filter((o) => o.project_id === params.project_id).reverse();
      return [200, { operations: ops, pagination: { cursor: '' } }];
    });
    this.on('GET', `${P}/operations/{operation_id}`, ({ params }) => {
      this.project(params.project_id);
      const op = this.operations.get(params.operation_id);
      if (!op || op.project_id !== params.project_id)
        throw new LocalApiError(404, `operation ${params.operation_id} not found`);
      return [200, { operation: op }];
    });

    this.on('GET', `${B}/schema`, async ({ params, query }) => {
      const b = this.branch(params.project_id, params.branch_id);
      return [200, { sql: await this.schemaOf(b.id, query.get('db_name') ?? '') }];
    });
    this.on('GET', `${B}/compare_schema`, async ({ params, query }) => {
      const b = this.branch(params.project_id, params.branch_id);
      const db = query.get('db_name') ?? '';
      const baseId = query.get('base_branch_id') ?? b.parent_id;
      if (!baseId) throw new LocalApiError(400, `branch ${b.id} has no parent to compare with`);
      const base = this.branch(params.project_id, baseId);
      const [before, after] = [await this.schemaOf(base.id, db), await this.schemaOf(b.id, db)];
      return [200, { diff: unifiedDiff(before, after, `${db} (${base.id})`, `${db} (${b.id})`) }];
    });
  }
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Largest request body read (Neon's own requests here are a few hundred bytes). */
const MAX_BODY = 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Doc> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new LocalApiError(413, 'request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text) return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new LocalApiError(400, 'request body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

export interface LocalApiServer {
  /** Base URL up to and including `/api/v2`. */
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * Serves `api` on 127.0.0.1 (a free port). Only requests with `Bearer <apiKey>` are answered: another
 * user of this machine can reach the port but not the key, which never leaves this process.
 */
export async function serveLocalApi(api: LocalNeon, apiKey: string): Promise<LocalApiServer> {
  const server: Server = createServer((req, res) => {
    void answer(api, apiKey, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/api/v2`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Compared in constant time: the port is reachable by every user of the machine. */
function sameKey(given: string | undefined, expected: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function answer(api: LocalNeon, apiKey: string, req: IncomingMessage, res: ServerResponse) {
  const send = (status: number, body: Doc) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const requestId = randomUUID();
  try {
    if (!sameKey(req.headers.authorization, `Bearer ${apiKey}`))
      throw new LocalApiError(401, 'local mode API: wrong or missing key', 'UNAUTHORIZED');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!url.pathname.startsWith('/api/v2/')) throw new LocalApiError(404, `no such path ${url.pathname}`);
    const body = req.method === 'GET' || req.method === 'DELETE' ? {} : await readBody(req);
    const [status, out] = await api.handle(
      req.method ?? 'GET',
      url.pathname.slice('/api/v2'.length),
      url.searchParams,
      body,
    );
    send(status, out);
  } catch (e) {
    if (e instanceof LocalApiError)
      send(e.status, { code: e.code, message: e.message, request_id: requestId });
    else {
      // A PostgreSQL error is the caller's to read (a name in use, a role that owns objects); its
      // SQLSTATE class 42/23/2B/55 means the request, anything else the server.
      const pgCode = (e as { code?: string }).code;
      const status = pgCode && /^(42|23|2B|55|22)/.test(pgCode) ? 409 : 500;
      send(status, {
        code: status === 409 ? 'CONFLICT' : 'INTERNAL_ERROR',
        message: `local mode: ${e instanceof Error ? e.message : String(e)}`,
        request_id: requestId,
      });
    }
  }
}
