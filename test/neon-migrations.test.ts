/**
 * src/neon/temp-branches.ts and src/neon/schema.ts called directly: a temporary branch created,
 * waited for and deleted again when the work on it fails (and what the error then says), pending
 * work found from its ID alone, applied once under an advisory lock that is released afterwards, and
 * the ways Neon can refuse a step of that. The Neon API is the fake (useMockApi, with msw overrides
 * for Neon's failures); SQL runs on a real PostgreSQL (usePostgres).
 */
import { createHash } from 'node:crypto';
import { HttpResponse, http } from 'msw';
import pgDriver from 'pg';
import { describe, expect, it } from 'vitest';
import { NeonApiError } from '../src/client/errors.js';
import { NeonClient } from '../src/client/neon-client.js';
import type { NeonContext, Settings } from '../src/neon/context.js';
import { newWork, tempBranchName, WORK_ID } from '../src/neon/pending.js';
import { databaseUrlResolver } from '../src/neon/resolver.js';
import { branchSchema, databaseSchema, SCHEMA_OPERATIONS } from '../src/neon/schema.js';
import { applyOnce, discard, findWork, removeBranch, tryOnTempBranch } from '../src/neon/temp-branches.js';
import { SqlError } from '../src/sql/errors.js';
import { BASE, neonError, TEST_KEY, useMockApi } from './helpers.js';
import { branchDatabase, OWNER } from './pg/branches.js';
import { usePostgres } from './pg/use-postgres.js';

const api = useMockApi();
const { pg, dbs } = usePostgres(api);

const settings: Settings = {
  readOnly: false,
  operationTimeoutMs: 10_000,
  sqlTimeoutMs: 10_000,
  sqlMaxRows: 100,
  sqlMaxBytes: 100_000,
};

/** A context on the fake that records its progress messages and the operations it waited for. */
function context(signal = new AbortController().signal) {
  const progress: string[] = [];
  const waited: string[][] = [];
  const ctx: NeonContext & { failWait?: Error } = {
    client: new NeonClient({ apiKey: TEST_KEY, baseUrl: BASE, retries: 0 }),
    signal,
    settings,
    progress: async (m) => {
      progress.push(m);
    },
    wait: async (ops) => {
      waited.push((ops ?? []).map((o) => o.action));
      if (ctx.failWait) throw ctx.failWait;
      return [...(ops ?? [])];
    },
  };
  return { ctx, progress, waited };
}

async function project() {
  const { project, branch } = api.fake.seedProject('migrations');
  await dbs.query(branch.id as string, 'CREATE TABLE items (id int PRIMARY KEY)');
  return { project_id: project.id as string, branch_id: branch.id as string };
}

const tempBranches = () => [...api.fake.branches.values()].filter((b) => String(b.name).startsWith('mcp-'));
const BRANCH = `${BASE}/projects/:project_id/branches/:branch_id`;

/** Starts a migration whose work succeeds, leaving its temporary branch pending. */
async function pending(ctx: NeonContext, project_id: string, sql = 'ALTER TABLE items ADD COLUMN n int') {
  const { start } = await tryOnTempBranch(ctx, 'migration', project_id, {}, { sql }, async (s) => s.id);
  return start;
}

describe('tryOnTempBranch', () => {
  it('creates the temporary branch with a compute, waits for it, and runs the work on it', async () => {
    const { project_id, branch_id } = await project();
    const { ctx, progress, waited } = context();
    const seen: string[] = [];
    const { start, result } = await tryOnTempBranch(
      ctx,
      'migration',
      project_id,
      {},
      { sql: 'SELECT 1' },
      async (s) => {
        seen.push(s.target.branch_id);
        return 42;
      },
    );
    expect(result).toBe(42);
    expect(start.id).toMatch(WORK_ID);
    expect(start).toEqual({
      branch_id,
      expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      database: 'neondb',
      role: 'neondb_owner',
      id: start.id,
      name: `mcp-migration-${start.id}`,
      temp: start.temp,
      target: { project_id, branch_id: start.temp, database: 'neondb', role: 'neondb_owner' },
    });
    expect(seen).toEqual([start.temp]);
    expect(progress).toEqual([`Creating temporary branch mcp-migration-${start.id} with a compute`]);
    expect(waited).toEqual([['create_branch', 'start_compute']]);
    const temp = api.fake.branches.get(start.temp);
    expect(temp).toMatchObject({ name: start.name, parent_id: branch_id });
  });

  it('deletes the temporary branch when the work fails, and says so, with what to do next', async () => {
    const { project_id, branch_id } = await project();
    const { ctx, waited } = context();
    const failing = (retry?: string) =>
      tryOnTempBranch(ctx, 'tuning', project_id, {}, { ddl: ['ANALYZE'], retry }, async (s) => {
        throw new Error(`broke on ${s.temp}`);
      }).then(
        () => 'ok',
        (e: Error) => e.message,
      );
    const first = await failing();
    const temp = /broke on (\S+)/.exec(first)?.[1];
    expect(first).toBe(
      `broke on ${temp}\nThe original branch ${branch_id} was not touched; the temporary branch ${temp} was deleted.`,
    );
    expect(await failing('Fix the DDL and call again.')).toMatch(
      /^broke on (\S+)\nThe original branch \S+ was not touched; the temporary branch \1 was deleted\. Fix the DDL and call again\.$/,
    );
    expect(tempBranches()).toEqual([]);
    // The cleanup does not wait for Neon's operations: only the two creations were waited for.
    expect(waited).toEqual([
      ['create_branch', 'start_compute'],
      ['create_branch', 'start_compute'],
    ]);
  });

  it('deletes the temporary branch even when the call was cancelled meanwhile', async () => {
    const { project_id, branch_id } = await project();
    const abort = new AbortController();
    const { ctx } = context(abort.signal);
    const err = await tryOnTempBranch(ctx, 'migration', project_id, {}, { sql: 'x' }, async () => {
      abort.abort();
      throw new Error('cancelled');
    }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^cancelled\\nThe original branch ${branch_id} was not touched; the temporary branch \\S+ was deleted\\.$`,
      ),
    );
    expect(tempBranches()).toEqual([]);
  });

  it('hands on a thrown value that is not an Error as it is', async () => {
    const { project_id } = await project();
    const { ctx } = context();
    await expect(
      tryOnTempBranch(ctx, 'migration', project_id, {}, { sql: 'x' }, async () => {
        throw 'not an Error';
      }),
    ).rejects.toBe('not an Error');
    expect(tempBranches()).toEqual([]);
  });

  it('says when the temporary branch could not be deleted, and that the original error stands', async () => {
    const { project_id, branch_id } = await project();
    api.use(http.delete(BRANCH, () => neonError(500, 'deletion is broken')));
    const { ctx } = context();
    const err = await tryOnTempBranch(ctx, 'migration', project_id, {}, { sql: 'x' }, async () => {
      throw new Error('the work failed');
    }).catch((e: Error) => e);
    const [temp] = tempBranches();
    expect((err as Error).message).toBe(
      `the work failed\nThe original branch ${branch_id} was not touched; the temporary branch ${temp?.id} could ` +
        'not be deleted: delete it with delete_branch.',
    );
  });

  it('deletes the new branch again when it does not become ready, and runs nothing', async () => {
    const { project_id } = await project();
    const { ctx, waited } = context();
    ctx.failWait = new Error('the operation failed');
    let ran = false;
    await expect(
      tryOnTempBranch(ctx, 'migration', project_id, {}, { sql: 'x' }, async () => {
        ran = true;
      }),
    ).rejects.toThrow(/^the operation failed$/);
    expect(ran).toBe(false);
    expect(tempBranches()).toEqual([]);
    // The cleanup is quiet: it does not wait for the deletion, whose wait would fail the same way.
    expect(waited).toEqual([['create_branch', 'start_compute']]);
  });
});

describe('removeBranch', () => {
  it('waits for the deletion unless quiet, and throws its failure unless quiet', async () => {
    const { project_id } = await project();
    const { ctx, waited } = context();
    const start = await pending(ctx, project_id);
    waited.length = 0;
    expect(await removeBranch(ctx, project_id, start.temp)).toBe(true);
    expect(waited).toEqual([['delete_timeline']]);
    // Quiet: resolves to false instead of throwing.
    expect(await removeBranch(ctx, project_id, 'br-none', { quiet: true })).toBe(false);
    await expect(removeBranch(ctx, project_id, 'br-none')).rejects.toBeInstanceOf(NeonApiError);
  });

  it('takes an answer without a body', async () => {
    const { project_id } = await project();
    api.use(http.delete(BRANCH, () => new HttpResponse(null, { status: 204 })));
    const { ctx, waited } = context();
    expect(await removeBranch(ctx, project_id, 'br-any')).toBe(true);
    expect(waited).toEqual([[]]);
  });
});

describe('temporary branch expiry', () => {
  it('renews the expiry of work found less than 12 h before it, and leaves a fresh one alone', async () => {
    const { project_id } = await project();
    const { ctx } = context();
    const start = await pending(ctx, project_id);
    const branch = api.fake.branches.get(start.temp) as Record<string, unknown>;
    const fresh = branch.expires_at;
    await findWork(ctx, 'migration', project_id, start.id);
    expect(branch.expires_at).toBe(fresh);
    const late = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    branch.expires_at = late;
    await findWork(ctx, 'migration', project_id, start.id);
    expect(Date.parse(branch.expires_at as string) - Date.now()).toBeGreaterThan(23.9 * 3_600_000);
  });

  it('makes the branch without an expiry when Neon refuses the field (an Early Access feature)', async () => {
    const { project_id } = await project();
    const { ctx } = context();
    let refused = 0;
    api.use(
      http.post(`${BASE}/projects/:project_id/branches`, async ({ request }) => {
        const body = (await request.clone().json()) as { branch?: { expires_at?: string } };
        if (!body.branch?.expires_at) return undefined;
        refused++;
        return neonError(400, 'expires_at is not available for this project', 'BAD_REQUEST');
      }),
    );
    const start = await pending(ctx, project_id);
    expect(refused).toBe(1);
    expect(start.expires_at).toBeUndefined();
    expect(api.fake.branches.get(start.temp)?.expires_at).toBeUndefined();
  });
});

describe('findWork', () => {
  it('says that no such work is pending, naming the tool that starts it', async () => {
    const { project_id } = await project();
    const { ctx } = context();
    const id = '0123456789abcdef';
    await expect(findWork(ctx, 'migration', project_id, id)).rejects.toThrow(
      new SqlError(
        `No migration ${id} is pending in project ${project_id}: no temporary branch mcp-migration-${id} exists ` +
          'there. It was completed or discarded already, expired (temporary branches live 24 h), or the ID is ' +
          'mistyped or from another project; call ' +
          'prepare_database_migration again if needed.',
      ),
    );
    await expect(findWork(ctx, 'tuning', project_id, id)).rejects.toThrow(
      /^No tuning 0123456789abcdef is pending .*; call prepare_query_tuning again if needed\.$/,
    );
  });

  it('finds the work from its ID alone, and refuses a branch of that name without a record', async () => {
    const { project_id, branch_id } = await project();
    const { ctx } = context();
    const start = await pending(ctx, project_id, 'ALTER TABLE items ADD COLUMN a int');
    expect(await findWork(context().ctx, 'migration', project_id, start.id)).toMatchObject({
      kind: 'migration',
      id: start.id,
      branch_id,
      sql: 'ALTER TABLE items ADD COLUMN a int',
      temp_branch_id: start.temp,
    });
    // Neon answering the branch without its annotation (a branch someone made under that name).
    api.use(http.get(BRANCH, () => HttpResponse.json({ branch: api.fake.branches.get(start.temp) })));
    await expect(findWork(ctx, 'migration', project_id, start.id)).rejects.toThrow(
      /is not the temporary branch of migration [0-9a-f]{16}: it carries no record of neon-mcp/,
    );
  });

  it('takes a branch Neon no longer has as no pending work, and hands on any other failure', async () => {
    const { project_id } = await project();
    const { ctx } = context();
    const start = await pending(ctx, project_id);
    api.use(http.get(BRANCH, () => neonError(404, 'branch not found')));
    await expect(findWork(ctx, 'migration', project_id, start.id)).rejects.toThrow(
      new RegExp(`^No migration ${start.id} is pending in project`),
    );
    api.use(http.get(BRANCH, () => neonError(500, 'Neon is down')));
    const err = await findWork(ctx, 'migration', project_id, start.id).catch((e) => e);
    expect(err).toBeInstanceOf(NeonApiError);
    expect(err.status).toBe(500);
  });

  it('discard deletes the temporary branch, waiting for Neon, and returns the work', async () => {
    const { project_id } = await project();
    const { ctx, waited } = context();
    const start = await pending(ctx, project_id);
    waited.length = 0;
    const work = await discard(ctx, 'migration', project_id, start.id);
    expect(work.temp_branch_id).toBe(start.temp);
    expect(tempBranches()).toEqual([]);
    expect(waited).toEqual([['delete_timeline']]);
  });
});

describe('applyOnce', () => {
  const key = (id: string) => BigInt.asIntN(64, BigInt(`0x${id}`)).toString();
  /** Whether another session can take the lock of `id` on the branch's database (and gives it back). */
  async function lockFree(branch_id: string, id: string): Promise<boolean> {
    const c = new pgDriver.Client({ connectionString: pg.uri(branchDatabase(branch_id, 'neondb'), OWNER) });
    await c.connect();
    try {
      const { rows } = await c.query('SELECT pg_try_advisory_lock($1::bigint) AS locked', [key(id)]);
      if (rows[0].locked) await c.query('SELECT pg_advisory_unlock($1::bigint)', [key(id)]);
      return rows[0].locked;
    } finally {
      await c.end();
    }
  }

  it('applies on the original, deletes the temporary branch and releases the lock', async () => {
    const { project_id, branch_id } = await project();
    const { ctx, progress } = context();
    const start = await pending(ctx, project_id);
    const work = await findWork(ctx, 'migration', project_id, start.id);
    progress.length = 0;
    const out = await applyOnce(ctx, work, async (s) => {
      expect(await lockFree(branch_id, work.id)).toBe(false);
      await s.exec(work.sql ?? '', undefined, 'the migration');
      return 'applied';
    });
    expect(out).toEqual({ result: 'applied', temp_branch_deleted: start.temp });
    expect(progress).toEqual([`Deleting temporary branch ${start.temp}`]);
    expect(tempBranches()).toEqual([]);
    expect(await lockFree(branch_id, work.id)).toBe(true);
  });

  it('releases the lock when the work fails too', async () => {
    const { project_id, branch_id } = await project();
    const { ctx } = context();
    const start = await pending(ctx, project_id);
    const work = await findWork(ctx, 'migration', project_id, start.id);
    await expect(
      applyOnce(ctx, work, async () => {
        throw new Error('apply failed');
      }),
    ).rejects.toThrow('apply failed');
    expect(await lockFree(branch_id, work.id)).toBe(true);
    expect(tempBranches()).toHaveLength(1);
  });

  it('takes a temporary branch deleted meanwhile as deleted', async () => {
    const { project_id } = await project();
    const { ctx } = context();
    const start = await pending(ctx, project_id);
    const work = await findWork(ctx, 'migration', project_id, start.id);
    api.use(http.delete(BRANCH, () => neonError(404, 'branch not found')));
    expect(await applyOnce(ctx, work, async () => 1)).toEqual({ result: 1, temp_branch_deleted: start.temp });
  });

  it('renames a temporary branch it cannot delete, and warns when that fails too', async () => {
    const { project_id } = await project();
    const { ctx } = context();
    const start = await pending(ctx, project_id);
    const work = await findWork(ctx, 'migration', project_id, start.id);
    api.use(http.delete(BRANCH, () => neonError(500, 'deletion is broken')));
    const renamed = await applyOnce(ctx, work, async () => 'done');
    expect(renamed.result).toBe('done');
    expect(renamed.temp_branch_deleted).toBeUndefined();
    expect(renamed.warning).toMatch(
      new RegExp(
        `^Applied, but the temporary branch ${start.temp} could not be deleted \\(.*deletion is broken.*\\): delete it ` +
          `with delete_branch\\. It was renamed ${start.name}-applied, so this ID no longer finds it\\.$`,
      ),
    );
    expect(api.fake.branches.get(start.temp)?.name).toBe(`${start.name}-applied`);

    const second = await pending(ctx, project_id);
    const again = await findWork(ctx, 'migration', project_id, second.id);
    api.use(http.patch(BRANCH, () => neonError(500, 'renaming is broken')));
    const warned = await applyOnce(ctx, again, async () => 'done');
    expect(warned.warning).toMatch(
      new RegExp(
        `^Applied, but the temporary branch ${second.temp} could not be deleted \\(.*\\): delete it with ` +
          `delete_branch\\. Do not complete ${second.id} again: it would be applied twice\\.$`,
      ),
    );
    expect(api.fake.branches.get(second.temp)?.name).toBe(second.name);
  });
});

describe('the ID and the record', () => {
  it('is the first 16 hex digits of SHA-256 over the fields, a newline and the body', () => {
    const spec = {
      kind: 'migration' as const,
      project_id: 'p-1',
      branch_id: 'br-main',
      database: 'app',
      role: 'owner',
      sql: 'SELECT 1',
    };
    const { id, annotations } = newWork(spec);
    const { nonce } = JSON.parse(annotations['neon-mcp'] ?? '');
    const fields = JSON.stringify([1, 'p-1', 'migration', 'br-main', 'app', 'owner', nonce]);
    expect(id).toBe(createHash('sha256').update(`${fields}\nSELECT 1`).digest('hex').slice(0, 16));
    expect(tempBranchName('migration', id)).toBe(`mcp-migration-${id}`);
  });

  it('takes IDs of exactly 16 lower-case hex digits', () => {
    expect(WORK_ID.test('0123456789abcdef')).toBe(true);
    for (const bad of ['x0123456789abcdef', '0123456789abcdef0', '0123456789ABCDEF', '0123456789abcde']) {
      expect(WORK_ID.test(bad), bad).toBe(false);
    }
  });
});

describe('branch schema', () => {
  it('lists the operations get_branch_schema calls', () => {
    expect(SCHEMA_OPERATIONS).toEqual([
      'getProjectBranchSchema',
      'listProjectBranches',
      'listProjectBranchDatabases',
    ]);
  });

  it('takes a schema answer without SQL as an empty schema', async () => {
    const { project_id, branch_id } = await project();
    api.use(http.get(`${BASE}/projects/:project_id/branches/:branch_id/schema`, () => HttpResponse.json({})));
    const { ctx } = context();
    expect(await branchSchema(ctx.client, project_id, undefined, undefined, ctx.signal)).toEqual({
      branch_id,
      database: 'neondb',
      sql: '',
    });
  });

  it('reads the schema of a --database-url server from its catalog, read-only', async () => {
    await pg.query('postgres', 'DROP TABLE IF EXISTS from_catalog; CREATE TABLE from_catalog (id int)');
    const { ctx } = context();
    const connections = databaseUrlResolver(pg.uri('postgres', OWNER));
    const out = await databaseSchema({ ...ctx, connections }, { project_id: 'unused' });
    expect(out.database).toBe('postgres');
    expect(out.sql).toMatch(/CREATE TABLE public\.from_catalog \(\n {4}id integer\n\);/);
    expect(api.requests).toEqual([]);
  });

  it('reads the database named, not the one of the --database-url', async () => {
    await pg.query('postgres', 'DROP DATABASE IF EXISTS catalog_other');
    await pg.query('postgres', 'CREATE DATABASE catalog_other');
    await pg.query('catalog_other', 'CREATE TABLE only_here (id int)');
    const { ctx } = context();
    const connections = databaseUrlResolver(pg.uri('postgres', OWNER));
    const out = await databaseSchema(
      { ...ctx, connections },
      { project_id: 'unused', database: 'catalog_other' },
    );
    expect(out.database).toBe('catalog_other');
    expect(out.sql).toMatch(/CREATE TABLE public\.only_here/);
  });
});
