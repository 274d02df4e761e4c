/**
 * An in-memory stand-in for the Neon API: small stores so a created branch shows up in the next list,
 * and operations that stay `running` for a few polls before they finish (or fail when told to).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { HttpResponse } from 'msw';

export const BASE = 'http://neon.test/api/v2';

type Json = Record<string, any>;

export interface FakeOperation extends Json {
  id: string;
  project_id: string;
  action: string;
  status: string;
  /** GETs of this operation still to answer `running` before it finishes. */
  pollsLeft: number;
  failWith?: string;
}

export function neonError(status: number, message: string, code = 'ERROR') {
  return HttpResponse.json({ code, message, request_id: `req-${status}` }, { status });
}

const now = () => new Date().toISOString();

export class NeonFake {
  projects = new Map<string, Json>();
  branches = new Map<string, Json>();
  endpoints = new Map<string, Json>();
  databases: Json[] = [];
  roles: (Json & { password: string })[] = [];
  operations = new Map<string, FakeOperation>();
  /** Branches deleted through the API, with their computes, until recovered (branch recovery). */
  deletedBranches = new Map<string, { branch: Json; endpoints: Json[]; deleted_at: string }>();
  /**
   * Annotations of branches by branch ID (set when a branch is created with `annotation_value`, which
   * Neon's API offers no way to change later), answered by get and list as Neon's description says.
   */
  annotations = new Map<string, { value: Record<string, string>; created_at: string; updated_at: string }>();
  /** How many GETs a new operation answers `running` before `finished`. */
  operationPolls = 2;
  /** When set, the next operation created fails with this error text. */
  failNextOperation: string | undefined;
  /** Database host used in connection strings (tests of SQL point it at a real server). */
  connectionUri:
    | ((q: {
        project_id: string;
        branch_id: string;
        database: string;
        role: string;
        pooled: boolean;
      }) => string)
    | undefined;
  /**
   * Called when a branch was created, before the answer (set by useBranchDatabases: a parent whose data
   * exists is copied now, so the child holds the parent as it was at that moment, as on Neon).
   */
  onBranchCreated: ((branch: Json) => Promise<void>) | undefined;
  /**
   * Called by a restore after the fake's own bookkeeping (set by useBranchDatabases): the data of
   * `target` moves to `preserved` when there is one, and `target` gets `source`'s data. A restore from
   * the branch's own history (`source` = `target`, with an LSN or a time) has no data behind it in the
   * fake: the data stays as it is.
   */
  onRestore:
    | ((q: { target: string; source: string; preserved?: string; pointInTime: boolean }) => Promise<void>)
    | undefined;
  /** Schema text of a branch's database, for the schema endpoints (set by useBranchDatabases). */
  schemaDump: ((branchId: string, database: string) => Promise<string>) | undefined;
  private seq = 0;

  id(prefix: string): string {
    this.seq++;
    return `${prefix}-${randomBytes(3).toString('hex')}-${this.seq}`;
  }

  /** A project with a default branch `main`, its compute, database `neondb` and role `neondb_owner`. */
  seedProject(
    name = 'demo',
    opts: { region_id?: string; org_id?: string } = {},
  ): { project: Json; branch: Json; endpoint: Json } {
    const project = this.makeProject({ name, ...opts });
    const branch = this.makeBranch(project.id, { name: 'main', default: true });
    const endpoint = this.makeEndpoint(project.id, branch.id, 'read_write');
    this.makeDatabase(branch.id, 'neondb', 'neondb_owner');
    this.makeRole(branch.id, 'neondb_owner');
    return { project, branch, endpoint };
  }

  makeProject(fields: Json = {}): Json {
    const id =
      fields.id ??
      `${String(fields.name ?? 'project')
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')}-${100000 + this.seq++}`;
    const t = now();
    const project = {
      id,
      platform_id: 'aws',
      region_id: 'aws-us-east-2',
      name: id,
      pg_version: 17,
      proxy_host: 'us-east-2.aws.neon.tech',
      branch_logical_size_limit: 0,
      branch_logical_size_limit_bytes: 0,
      store_passwords: true,
      cpu_used_sec: 0,
      provisioner: 'k8s-neonvm',
      creation_source: 'console',
      history_retention_seconds: 86400,
      owner_id: 'user-1',
      active_time_seconds: 0,
      compute_time_seconds: 0,
      written_data_bytes: 0,
      data_transfer_bytes: 0,
      data_storage_bytes_hour: 0,
      consumption_period_start: t,
      consumption_period_end: t,
      created_at: t,
      updated_at: t,
      settings: {},
      ...stripUndefined(fields),
    };
    this.projects.set(id, project);
    return project;
  }

  makeBranch(projectId: string, fields: Json = {}): Json {
    const id = this.id('br');
    const t = now();
    const branch = {
      id,
      project_id: projectId,
      name: fields.name ?? id,
      current_state: 'ready',
      state_changed_at: t,
      creation_source: 'console',
      created_at: t,
      updated_at: t,
      default: false,
      protected: false,
      cpu_used_sec: 0,
      active_time_seconds: 0,
      compute_time_seconds: 0,
      written_data_bytes: 0,
      data_transfer_bytes: 0,
      ...stripUndefined(fields),
    };
    this.branches.set(id, branch);
    return branch;
  }

  makeEndpoint(
    projectId: string,
    branchId: string,
    type: 'read_write' | 'read_only',
    fields: Json = {},
  ): Json {
    const id = this.id('ep');
    const t = now();
    const endpoint = {
      id,
      host: `${id}.us-east-2.aws.neon.tech`,
      project_id: projectId,
      branch_id: branchId,
      region_id: 'aws-us-east-2',
      autoscaling_limit_min_cu: 0.25,
      autoscaling_limit_max_cu: 2,
      type,
      current_state: 'idle',
      pooler_enabled: false,
      pooler_mode: 'transaction',
      disabled: false,
      passwordless_access: true,
      creation_source: 'console',
      created_at: t,
      updated_at: t,
      settings: {},
      proxy_host: 'us-east-2.aws.neon.tech',
      suspend_timeout_seconds: 0,
      provisioner: 'k8s-neonvm',
      ...stripUndefined(fields),
    };
    this.endpoints.set(id, endpoint);
    return endpoint;
  }

  makeDatabase(branchId: string, name: string, owner: string): Json {
    const t = now();
    const db = { id: this.seq++, branch_id: branchId, name, owner_name: owner, created_at: t, updated_at: t };
    this.databases.push(db);
    return db;
  }

  makeRole(branchId: string, name: string, fields: Json = {}): Json & { password: string } {
    const t = now();
    const role = {
      branch_id: branchId,
      name,
      protected: false,
      created_at: t,
      updated_at: t,
      password: `pw-${randomBytes(8).toString('hex')}`,
      ...fields,
    };
    this.roles.push(role);
    return role;
  }

  /** New operations in `running` state, in order. */
  startOperations(
    projectId: string,
    actions: { action: string; branch_id?: string; endpoint_id?: string }[],
  ): FakeOperation[] {
    return actions.map((a) => {
      const t = now();
      const op: FakeOperation = {
        id: randomUUID(),
        project_id: projectId,
        branch_id: a.branch_id,
        endpoint_id: a.endpoint_id,
        action: a.action,
        status: 'running',
        failures_count: 0,
        created_at: t,
        updated_at: t,
        total_duration_ms: 0,
        pollsLeft: this.operationPolls,
      };
      if (this.failNextOperation) {
        op.failWith = this.failNextOperation;
        this.failNextOperation = undefined;
      }
      this.operations.set(op.id, op);
      return op;
    });
  }

  /** Advances an operation on each GET; the public shape has no test-only fields. */
  pollOperation(op: FakeOperation): Json {
    if (op.status === 'running') {
      if (op.pollsLeft > 0) op.pollsLeft--;
      else if (op.failWith) {
        op.status = 'failed';
        op.error = op.failWith;
      } else op.status = 'finished';
      op.updated_at = now();
    }
    return publicOperation(op);
  }

  /** A branch's annotation in the shape of Neon's AnnotationData (an empty value when it has none). */
  annotationOf(branchId: string): Json {
    const a = this.annotations.get(branchId);
    return {
      object: { type: 'console/branch', id: branchId },
      value: a?.value ?? {},
      ...(a ? { created_at: a.created_at, updated_at: a.updated_at } : {}),
    };
  }

  branchesOf(projectId: string): Json[] {
    return [...this.branches.values()].filter((b) => b.project_id === projectId);
  }
  endpointsOf(projectId: string, branchId?: string): Json[] {
    return [...this.endpoints.values()].filter(
      (e) => e.project_id === projectId && (!branchId || e.branch_id === branchId),
    );
  }
  databasesOf(branchId: string): Json[] {
    return this.databases.filter((d) => d.branch_id === branchId);
  }
  rolesOf(branchId: string): (Json & { password: string })[] {
    return this.roles.filter((r) => r.branch_id === branchId);
  }
}

export function publicOperation(op: FakeOperation): Json {
  const { pollsLeft: _p, failWith: _f, ...rest } = op;
  return stripUndefined(rest);
}

export function publicRole(role: Json): Json {
  const { password: _, ...rest } = role;
  return rest;
}

export function stripUndefined<T extends Json>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
