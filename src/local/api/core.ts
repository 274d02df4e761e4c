/**
 * The core of local mode's stand-in for Neon's API (see ./index.ts): the router, the lookups, and the
 * makers and removers that several resources share (a branch's roles, databases, computes; a copy
 * from its parent). Each resource's routes live in their own file beside it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Catalog, Doc } from '../catalog.js';
import { type Cluster, physicalName } from '../cluster.js';
import { dumpSchema } from '../schema-text.js';

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

export type Params = Record<string, string>;
export interface Request {
  params: Params;
  query: URLSearchParams;
  body: Doc;
}
export type Handler = (req: Request) => Promise<[number, Doc]> | [number, Doc];

const REGION = 'local';
const PROVISIONER = 'k8s-neonvm';
export const now = () => new Date().toISOString();
export const hex = (bytes: number) => randomBytes(bytes).toString('hex');
export const password = () => `npg_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;

/** A branch's annotation as Neon answers it (AnnotationData). */
export function annotationOf(branch: Doc): Doc {
  return {
    object: { type: 'console/branch', id: branch.id },
    value: branch._annotations ?? {},
    ...(branch._annotations ? { created_at: branch.created_at, updated_at: branch.created_at } : {}),
  };
}

/** Neon's objects without the fields local mode keeps for itself (`_physical`, `_password`, `_tag`). */
export function visible(doc: Doc): Doc {
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('_')));
}

export function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** State and helpers shared by the resources' routes (each file adds its own with {@link on}). */
export class LocalCore {
  private readonly routes: { method: string; regex: RegExp; names: string[]; handler: Handler }[] = [];
  readonly operations = new Map<string, Doc>();
  /** Changes run one at a time: each touches both the catalog and the server. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly opts: LocalApiOptions) {}

  get catalog(): Catalog {
    return this.opts.catalog;
  }
  get cluster(): Cluster {
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

  /** Adds a route: `template` relative to `/api/v2`, `{name}` for a path parameter. */
  on(method: string, template: string, handler: Handler): void {
    const names: string[] = [];
    const pattern = template.replace(/\{([a-z_]+)\}/g, (_m, n) => {
      names.push(n);
      return '([^/]+)';
    });
    this.routes.push({ method, regex: new RegExp(`^${pattern}$`), names, handler });
  }

  // ---- lookups ----

  project(id: string): Doc {
    const p = this.catalog.items.project.get(id);
    if (!p) throw new LocalApiError(404, `project ${id} not found`);
    return p;
  }
  branch(projectId: string, id: string): Doc {
    this.project(projectId);
    const b = this.catalog.items.branch.get(id);
    if (!b || b.project_id !== projectId) throw new LocalApiError(404, `branch ${id} not found`);
    return b;
  }
  branchesOf(projectId: string): Doc[] {
    return this.catalog.list('branch', (b) => b.project_id === projectId);
  }
  endpointsOf(projectId: string, branchId?: string): Doc[] {
    return this.catalog.list(
      'endpoint',
      (e) => e.project_id === projectId && (!branchId || e.branch_id === branchId),
    );
  }
  databasesOf(branchId: string): Doc[] {
    return this.catalog.list('database', (d) => d.branch_id === branchId).sort((a, b) => a.id - b.id);
  }
  rolesOf(branchId: string): Doc[] {
    return this.catalog.list('role', (r) => r.branch_id === branchId);
  }
  database(branchId: string, name: string): Doc {
    const d = this.catalog.items.database.get(`${branchId}/${name}`);
    if (!d) throw new LocalApiError(404, `database ${name} not found on branch ${branchId}`);
    return d;
  }
  role(branchId: string, name: string): Doc {
    const r = this.catalog.items.role.get(`${branchId}/${name}`);
    if (!r) throw new LocalApiError(404, `role ${name} not found on branch ${branchId}`);
    return r;
  }

  // ---- operations ----

  /** The work is done by the time the answer is sent: operations are finished from the start. */
  ops(projectId: string, actions: { action: string; branch_id?: string; endpoint_id?: string }[]) {
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

  tag(): string {
    for (;;) {
      const t = hex(4);
      if (!this.catalog.list('branch', (b) => b._tag === t).length) return t;
    }
  }

  async makeProject(body: Doc): Promise<Doc> {
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

  major: number | undefined;
  async serverMajor(): Promise<number> {
    if (this.major === undefined) {
      const { rows } = await this.cluster.pool.query<{ v: string }>(
        "SELECT current_setting('server_version_num') AS v",
      );
      this.major = Math.floor(Number(rows[0].v) / 10000);
    }
    return this.major;
  }

  async makeBranch(projectId: string, fields: Doc): Promise<Doc> {
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

  async makeEndpoint(branch: Doc, type = 'read_write'): Promise<Doc> {
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

  async makeRole(branch: Doc, name: string, pw = password()): Promise<Doc> {
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

  nextDatabaseId(): number {
    return Math.max(0, ...this.catalog.list('database').map((d) => Number(d.id))) + 1;
  }

  async makeDatabase(branch: Doc, name: string, owner: string): Promise<Doc> {
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

  putDatabase(branch: Doc, name: string, owner: string, physical: string): Promise<Doc> {
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

  checkName(name: unknown, what: string): asserts name is string {
    if (typeof name !== 'string' || !name || name.length > 63 || /[\0]/.test(name))
      throw new LocalApiError(400, `${what} name must be 1 to 63 characters`);
  }

  uri(database: Doc, role: Doc): string {
    const { host, port, search } = this.opts.connect;
    return (
      `postgresql://${encodeURIComponent(role._physical)}:${encodeURIComponent(role._password)}` +
      `@${host}:${port}/${encodeURIComponent(database._physical)}${search}`
    );
  }

  connectionUris(branch: Doc): Doc[] {
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

  /** Removes a branch's computes, databases and roles, on the server and in the catalog. */
  async dropBranch(branch: Doc): Promise<void> {
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
   * The parent's roles the branch lacks (same names and passwords, new login roles on the server), then
   * a copy of each of the parent's databases, whose objects are handed to the branch's roles.
   */
  async copyFromParent(branch: Doc, parent: Doc): Promise<void> {
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

  /** A page of `items` sorted by id: `limit` and `cursor` (the last id of the previous page). */
  page(items: Doc[], query: URLSearchParams): { items: Doc[]; cursor?: string } {
    const limit = Number(query.get('limit') ?? 0) || items.length;
    const cursor = query.get('cursor');
    const sorted = [...items].sort((a, b) => String(a.id).localeCompare(String(b.id)));
    const after = cursor ? sorted.filter((x) => String(x.id) > cursor) : sorted;
    const items_ = after.slice(0, limit);
    return { items: items_, cursor: items_.at(-1)?.id };
  }

  async schemaOf(branchId: string, database: string): Promise<string> {
    const d = this.database(branchId, database);
    return this.cluster.query(d._physical, (c) =>
      dumpSchema(async (sql) => (await c.query<{ ddl: string }>(sql)).rows),
    );
  }
}
