/**
 * Migrations and query tunings waiting for their complete_/discard_ call, kept with no server memory:
 * what completing needs (the original branch, database, role and the SQL) is written into the
 * annotations of the temporary branch when Neon creates it, and the ID the agent holds is a digest of
 * that record. Any neon-mcp instance, or one restarted since, finds the branch by its name
 * (`mcp-<kind>-<id>`), reads the record back and checks it against the ID.
 *
 * Why annotations of the temporary branch, not the handle or a table:
 * - The SQL may be up to 100,000 characters: a handle that carried it would be copied by agents, and
 *   one wrong character breaks it. The ID stays 16 hex digits.
 * - A table in the temporary branch's database would be in the schema an agent inspects and diffs,
 *   and writable by any SQL run there: the migration itself, and run_sql, which the agent is told to
 *   use on that branch. Annotations are not reachable through SQL, Neon's API sets them only when the
 *   branch is created (BranchUpdateRequest has no annotations), and they go away with the branch.
 * - The ID is the first 64 bits of a SHA-256 over the record (project, kind, branch, database, role,
 *   SQL and a random nonce): an annotation changed by other means, or a branch someone created under
 *   that name, does not match the ID, and is refused before anything runs. This is no privilege
 *   boundary: whoever could forge a record can write to the project anyway, and completing applies
 *   the SQL with the caller's own key, to a branch of the project the caller named (which
 *   --project-id fixes), that must be the temporary branch's parent.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SqlError } from '../sql/errors.js';

export type WorkKind = 'migration' | 'tuning';

export interface PendingWork {
  kind: WorkKind;
  id: string;
  project_id: string;
  /** The branch the work is for. */
  branch_id: string;
  database: string;
  role: string;
  temp_branch_id: string;
  temp_branch_name: string;
  /** The migration script. */
  sql?: string;
  /** The statements tried by a query tuning. */
  ddl?: string[];
  created_at: string;
}

/** What a migration or tuning is started with. */
export interface WorkSpec {
  kind: WorkKind;
  project_id: string;
  branch_id: string;
  database: string;
  role: string;
  sql?: string;
  ddl?: string[];
}

/** The annotation holding the record's fields; the body follows in `neon-mcp-1` … `neon-mcp-<parts>`. */
const META_KEY = 'neon-mcp';
const VERSION = 1;
/**
 * Characters per annotation value. Neon's description bounds an annotation at 50 values and gives
 * no length for one; 4,000 characters each in 45 parts (the rest left to the record and to Neon)
 * holds the longest migration_sql (100,000 characters).
 */
export const PART_CHARS = 4_000;
export const MAX_PARTS = 45;

/** An ID returned by prepare_*: 16 hex digits. */
export const WORK_ID = /^[0-9a-f]{16}$/;

/** The name of the temporary branch of a piece of work: `mcp-migration-<id>` or `mcp-tuning-<id>`. */
export function tempBranchName(kind: WorkKind, id: string): string {
  return `mcp-${kind}-${id}`;
}

const bodyOf = (spec: Pick<WorkSpec, 'kind' | 'sql' | 'ddl'>) =>
  spec.kind === 'migration' ? (spec.sql ?? '') : JSON.stringify(spec.ddl ?? []);

function digest(spec: WorkSpec, nonce: string): string {
  const fields = [VERSION, spec.project_id, spec.kind, spec.branch_id, spec.database, spec.role, nonce];
  return createHash('sha256')
    .update(JSON.stringify(fields))
    .update('\n')
    .update(bodyOf(spec))
    .digest('hex')
    .slice(0, 16);
}

/** Cuts `text` into parts of at most `size` UTF-16 units, never between the halves of a surrogate pair. */
function split(text: string, size: number): string[] {
  const parts: string[] = [];
  for (let at = 0; at < text.length; ) {
    let end = Math.min(at + size, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    parts.push(text.slice(at, end));
    at = end;
  }
  return parts;
}

/**
 * A new piece of work: its ID and the annotations its temporary branch is created with. Throws
 * (before anything is created) when the SQL does not fit into one branch's annotations.
 */
export function newWork(spec: WorkSpec): { id: string; annotations: Record<string, string> } {
  const nonce = randomBytes(8).toString('hex');
  const parts = split(bodyOf(spec), PART_CHARS);
  if (parts.length > MAX_PARTS) {
    throw new SqlError(
      `The ${spec.kind === 'migration' ? 'migration' : 'DDL'} is too long to keep with its temporary branch ` +
        `(${bodyOf(spec).length} characters, at most ${PART_CHARS * MAX_PARTS}): split it into smaller steps.`,
    );
  }
  const meta = {
    v: VERSION,
    kind: spec.kind,
    branch_id: spec.branch_id,
    database: spec.database,
    role: spec.role,
    nonce,
    parts: parts.length,
    created_at: new Date().toISOString(),
  };
  const annotations: Record<string, string> = { [META_KEY]: JSON.stringify(meta) };
  parts.forEach((p, i) => {
    annotations[`${META_KEY}-${i + 1}`] = p;
  });
  return { id: digest(spec, nonce), annotations };
}

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/**
 * The work recorded in a temporary branch's annotations, checked against the ID it was found by and
 * the branch Neon says it was made from. Throws an SqlError naming the branch when they do not match.
 */
export function readWork(
  kind: WorkKind,
  id: string,
  project_id: string,
  branch: { id: string; name: string; parent_id?: string },
  annotations: Record<string, string> | undefined,
): PendingWork {
  const refuse = (why: string) =>
    new SqlError(
      `Branch ${branch.id} (${branch.name}) is not the temporary branch of ${kind} ${id}: ${why}. Nothing was ` +
        `applied. If it is left over, delete it with delete_branch; call prepare_${kind === 'migration' ? 'database_migration' : 'query_tuning'} again.`,
    );
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(annotations?.[META_KEY] ?? '');
  } catch {
    throw refuse('it carries no record of neon-mcp (it was not created by prepare, or by an older neon-mcp)');
  }
  const { branch_id, database, role, nonce, parts, created_at } = meta;
  if (
    meta.v !== VERSION ||
    meta.kind !== kind ||
    !str(branch_id) ||
    !str(database) ||
    !str(role) ||
    !str(nonce) ||
    typeof parts !== 'number' ||
    !Number.isInteger(parts) ||
    parts < 0 ||
    parts > MAX_PARTS
  ) {
    throw refuse('its record is not one this neon-mcp reads');
  }
  let body = '';
  for (let i = 1; i <= parts; i++) {
    const part = annotations?.[`${META_KEY}-${i}`];
    if (typeof part !== 'string') throw refuse(`part ${i} of its record is missing`);
    body += part;
  }
  let ddl: string[] | undefined;
  if (kind === 'tuning') {
    try {
      ddl = JSON.parse(body);
    } catch {
      ddl = undefined;
    }
    if (!Array.isArray(ddl) || !ddl.every(str)) throw refuse('its list of statements is damaged');
  }
  const spec: WorkSpec = {
    kind,
    project_id,
    branch_id,
    database,
    role,
    ...(kind === 'migration' ? { sql: body } : { ddl }),
  };
  if (digest(spec, nonce) !== id)
    throw refuse('its record does not match the ID (changed, or not this work)');
  if (branch.parent_id !== branch_id) {
    throw refuse(`it was made from ${branch.parent_id ?? 'no branch'}, not from ${branch_id}`);
  }
  return {
    ...spec,
    id,
    temp_branch_id: branch.id,
    temp_branch_name: branch.name,
    created_at: str(created_at) ? created_at : '',
  };
}
