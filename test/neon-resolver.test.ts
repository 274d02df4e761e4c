/**
 * src/neon/resolver.ts and the read-only credential of src/neon/role-access.ts, called directly: the
 * defaults of a target (default branch, first database, its owner), the short-lived cache of resolved
 * details and its one retry after a failed connect, and the --database-url checks and resolver. The
 * Neon API is the fake (useMockApi); SQL runs on a real PostgreSQL (usePostgres).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NeonClient } from '../src/client/neon-client.js';
import { cachesOf, type Settings } from '../src/neon/context.js';
import {
  checkDatabaseUrl,
  databaseUrlResolver,
  databaseUrlSecrets,
  defaultBranchId,
  describeDb,
  forgetBranch,
  neonResolver,
  onDatabase,
  pickDatabase,
  resolveDb,
} from '../src/neon/resolver.js';
import { readOnlyConnection } from '../src/neon/role-access.js';
import { SqlConnectError } from '../src/sql/errors.js';
import type { Session } from '../src/sql/session.js';
import { BASE, TEST_KEY, useMockApi } from './helpers.js';
import { OWNER } from './pg/branches.js';
import { usePostgres } from './pg/use-postgres.js';

const api = useMockApi();
const signal = new AbortController().signal;
const client = () => new NeonClient({ apiKey: TEST_KEY, baseUrl: BASE, retries: 0 });
const settings = (readOnly = false): Settings => ({
  readOnly,
  operationTimeoutMs: 10_000,
  sqlTimeoutMs: 10_000,
  sqlMaxRows: 100,
  sqlMaxBytes: 100_000,
});
/** Requests to Neon's connection_uri endpoint so far. */
const uriRequests = async () => {
  await api.settle();
  return api.requests.filter((r) => r.path.endsWith('/connection_uri')).length;
};

afterEach(() => vi.restoreAllMocks());

describe('defaultBranchId', () => {
  it('takes the branch marked default, wherever it is listed', async () => {
    const project = api.fake.makeProject({ name: 'p' });
    api.fake.makeBranch(project.id, { name: 'first' });
    const main = api.fake.makeBranch(project.id, { name: 'main', default: true });
    expect(await defaultBranchId(client(), project.id)).toBe(main.id);
  });

  it('falls back to the first branch when none is marked default', async () => {
    const project = api.fake.makeProject({ name: 'p' });
    const first = api.fake.makeBranch(project.id, { name: 'first' });
    api.fake.makeBranch(project.id, { name: 'second' });
    expect(await defaultBranchId(client(), project.id)).toBe(first.id);
  });

  it('says so when the project has no branch', async () => {
    const project = api.fake.makeProject({ name: 'empty' });
    await expect(defaultBranchId(client(), project.id)).rejects.toMatchObject({
      message: `Project ${project.id} has no branches.`,
    });
  });
});

describe('pickDatabase', () => {
  it('says that a branch has no database, and how to make one', async () => {
    const project = api.fake.makeProject({ name: 'p' });
    const b = api.fake.makeBranch(project.id, { name: 'main', default: true });
    await expect(pickDatabase(client(), project.id, b.id, undefined)).rejects.toMatchObject({
      message: `Branch ${b.id} has no database. Create one with create_database.`,
    });
    await expect(pickDatabase(client(), project.id, b.id, 'shop')).rejects.toMatchObject({
      message: `Database "shop" does not exist on branch ${b.id}. Existing: none.`,
    });
  });

  it('lists every existing database when the named one is missing', async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.makeDatabase(branch.id, 'shop', 'neondb_owner');
    await expect(pickDatabase(client(), project.id, branch.id, 'nope')).rejects.toMatchObject({
      message: `Database "nope" does not exist on branch ${branch.id}. Existing: neondb, shop.`,
    });
    expect(await pickDatabase(client(), project.id, branch.id, 'shop')).toEqual({
      name: 'shop',
      owner: 'neondb_owner',
    });
  });
});

describe('resolveDb', () => {
  it("says whether the role is the database's owner, when that was looked up", async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.makeRole(branch.id, 'app');
    const c = client();
    const owner = await resolveDb(c, { project_id: project.id }, signal);
    expect(owner).toMatchObject({ role: 'neondb_owner', owner: true, cached: false });
    const other = await resolveDb(c, { project_id: project.id, role: 'app' }, signal);
    expect(other).toMatchObject({ database: 'neondb', role: 'app', owner: false, cached: false });
    const both = await resolveDb(c, { project_id: project.id, database: 'neondb', role: 'app' }, signal);
    expect(both.owner).toBeUndefined();
  });

  it('reuses resolved details for a minute per target, unless asked for fresh ones', async () => {
    const { project, branch } = api.fake.seedProject();
    api.fake.makeDatabase(branch.id, 'shop', 'neondb_owner');
    let now = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    const c = client();
    const first = await resolveDb(c, { project_id: project.id }, signal);
    expect(first).toEqual({
      project_id: project.id,
      branch_id: branch.id,
      database: 'neondb',
      role: 'neondb_owner',
      // Always direct: the session pools connections itself.
      pooled: false,
      uri: expect.stringMatching(/^postgresql:\/\/neondb_owner:/),
      owner: true,
      cached: false,
    });
    expect(await uriRequests()).toBe(1);

    now += 59_999;
    expect(await resolveDb(c, { project_id: project.id }, signal)).toEqual({ ...first, cached: true });
    expect(await uriRequests()).toBe(1);
    // Another target is another entry.
    const shop = await resolveDb(c, { project_id: project.id, database: 'shop' }, signal);
    expect(shop).toMatchObject({ database: 'shop', cached: false });
    expect(await uriRequests()).toBe(2);
    // Fresh bypasses the entry and renews it.
    expect(await resolveDb(c, { project_id: project.id }, signal, true)).toMatchObject({ cached: false });
    expect(await uriRequests()).toBe(3);
    now += 59_999;
    expect(await resolveDb(c, { project_id: project.id }, signal)).toMatchObject({ cached: true });
    // After a minute the entry is stale.
    now += 1;
    expect(await resolveDb(c, { project_id: project.id }, signal)).toMatchObject({ cached: false });
    expect(await uriRequests()).toBe(4);
  });

  it('asks for a direct connection even when the target says pooled', async () => {
    const { project } = api.fake.seedProject();
    const db = await resolveDb(client(), { project_id: project.id, pooled: true }, signal);
    expect(db.pooled).toBe(false);
    await api.settle();
    const q = api.requests.find((r) => r.path.endsWith('/connection_uri'))?.query;
    expect(q?.get('pooled')).toBe('false');
    expect(db.uri).not.toContain('-pooler');
  });

  it('keeps one cache per tenant: another key resolves anew', async () => {
    const { project } = api.fake.seedProject();
    await resolveDb(client(), { project_id: project.id }, signal);
    expect(await resolveDb(client(), { project_id: project.id }, signal)).toMatchObject({ cached: false });
  });

  it("forgets a deleted branch's details, and only that branch's", async () => {
    const { project, branch } = api.fake.seedProject();
    const dev = api.fake.makeBranch(project.id, { name: 'dev', parent_id: branch.id });
    api.fake.makeEndpoint(project.id, dev.id, 'read_write');
    api.fake.makeDatabase(dev.id, 'neondb', 'neondb_owner');
    api.fake.makeRole(dev.id, 'neondb_owner');
    const c = client();
    forgetBranch(c, dev.id); // nothing cached yet for this tenant: nothing to do
    await resolveDb(c, { project_id: project.id }, signal);
    await resolveDb(c, { project_id: project.id, branch_id: dev.id }, signal);
    forgetBranch(c, dev.id);
    expect(await resolveDb(c, { project_id: project.id }, signal)).toMatchObject({ cached: true });
    expect(await resolveDb(c, { project_id: project.id, branch_id: dev.id }, signal)).toMatchObject({
      cached: false,
    });
  });
});

describe('neonResolver', () => {
  it("is Neon's, and describes a database by branch, database and role", () => {
    const c = client();
    const resolver = neonResolver(c);
    expect(resolver.kind).toBe('neon');
    const db = {
      project_id: 'p-1',
      branch_id: 'br-1',
      database: 'shop',
      role: 'app',
      pooled: false,
      uri: 'postgresql://app:pw@h/shop',
      cached: false,
      owner: false,
    };
    expect(resolver.session(db)).toEqual({
      uri: 'postgresql://app:pw@h/shop',
      database: 'shop',
      where: 'branch br-1 (database shop, role app)',
      role: 'app',
      owner: false,
      tag: 'br-1',
      tenant: c.tenant.id,
      readerWalls: cachesOf(c).readerWalls,
    });
    expect(describeDb(db)).toBe('branch br-1 (database shop, role app)');
  });
});

describe('checkDatabaseUrl', () => {
  it('reads host, port, user and database of a postgresql: or postgres: URL', () => {
    expect(checkDatabaseUrl('postgresql://app:pw@db.example.com:6543/shop')).toEqual({
      host: 'db.example.com',
      port: 6543,
      user: 'app',
      database: 'shop',
    });
    expect(checkDatabaseUrl('postgres://app@db.example.com/shop')).toEqual({
      host: 'db.example.com',
      port: 5432,
      user: 'app',
      database: 'shop',
    });
  });

  it('refuses what is not a URL, another scheme, a socket path, no user; never repeating the URL', () => {
    const refused = (url: string) => {
      try {
        checkDatabaseUrl(url);
      } catch (e) {
        expect((e as Error).message).not.toContain('s3cret');
        return (e as Error).message;
      }
      throw new Error(`accepted ${url}`);
    };
    expect(refused('app s3cret db/shop')).toBe(
      'The database URL is not a valid URL; expected postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE ' +
        '(percent-encode special characters in the password).',
    );
    expect(refused('mysql://app:s3cret@db/shop')).toBe(
      'The database URL has scheme mysql:; expected postgresql: or postgres:.',
    );
    expect(refused('http://app:s3cret@db/shop')).toBe(
      'The database URL has scheme http:; expected postgresql: or postgres:.',
    );
    expect(refused('postgresql:///shop?host=/var/run/postgresql&password=s3cret')).toBe(
      'The database URL names no host (postgresql://USER@HOST/DATABASE); a Unix-domain socket is not supported, use TCP.',
    );
    expect(refused('postgresql://db.example.com/shop?password=s3cret')).toBe(
      'The database URL names no user (postgresql://USER@HOST/DATABASE).',
    );
  });
});

describe('databaseUrlResolver', () => {
  const url = 'postgresql://app:pw@db.example.com:6543/shop?sslmode=require';

  it("resolves every target to the URL's database, or another one of the same server", async () => {
    const resolver = databaseUrlResolver(url);
    expect(resolver.kind).toBe('postgres');
    const same = { database: 'shop', role: 'app', pooled: false, uri: url, cached: false };
    expect(await resolver.resolve({}, signal, false)).toEqual(same);
    expect(await resolver.resolve({ database: 'shop', project_id: 'p' }, signal, true)).toEqual(same);
    expect(await resolver.resolve({ database: 'other db' }, signal, false)).toEqual({
      database: 'other db',
      role: 'app',
      pooled: false,
      uri: 'postgresql://app:pw@db.example.com:6543/other%20db?sslmode=require',
      cached: false,
    });
  });

  it("uses the URL as written for its own database, also one it leaves to the user's name", async () => {
    // No path: PostgreSQL's default database, the user's name. Naming it is the URL itself (one pool).
    const bare = 'postgresql://app:pw@db.example.com:6543?sslmode=require';
    const resolver = databaseUrlResolver(bare);
    expect(await resolver.resolve({ database: 'app' }, signal, false)).toEqual({
      database: 'app',
      role: 'app',
      pooled: false,
      uri: bare,
      cached: false,
    });
  });

  it('describes the database by server, with brackets around an IPv6 host', async () => {
    const resolver = databaseUrlResolver(url);
    const db = await resolver.resolve({}, signal, false);
    expect(resolver.session(db)).toEqual({
      uri: url,
      where: 'database shop on db.example.com:6543 (role app)',
      role: 'app',
      byUrl: true,
      readerWalls: { walls: new Map(), reported: new Set() },
    });
    const v6 = databaseUrlResolver('postgresql://app@[::1]:6543/shop');
    expect(v6.session(await v6.resolve({}, signal, false)).where).toBe(
      'database shop on [::1]:6543 (role app)',
    );
  });
});

describe('databaseUrlSecrets', () => {
  it('gives the password as written and decoded, once each', () => {
    expect(databaseUrlSecrets('postgresql://app:p%40ss%2Fw@h/db')).toEqual(['p%40ss%2Fw', 'p@ss/w']);
    expect(databaseUrlSecrets('postgresql://app:plain@h/db')).toEqual(['plain']);
  });

  it('gives nothing without a URL, without a password, or for what is not a URL', () => {
    expect(databaseUrlSecrets(undefined)).toEqual([]);
    expect(databaseUrlSecrets('')).toEqual([]);
    expect(databaseUrlSecrets('postgresql://app@h/db')).toEqual([]);
    expect(databaseUrlSecrets('not a url')).toEqual([]);
  });
});

describe('readOnlyConnection', () => {
  it("leaves out the owner's password, saying why and where to get a read-only role", async () => {
    const { project } = api.fake.seedProject();
    const out = await readOnlyConnection(
      { client: client(), signal, settings: settings(true) },
      { project_id: project.id },
    );
    expect(new URL(out.uri).password).toBe('');
    expect(new URL(out.uri).username).toBe('neondb_owner');
    expect(out.password_omitted).toBe(
      'The password of neondb_owner (the database owner, who can write) is left out. In read-only mode ' +
        '(--read-only) neon-mcp hands out no credential that can write. Ask the user for a read-only role ' +
        '(without --read-only, create_role with access read_only makes one) and pass it as role.',
    );
  });
});

describe('onDatabase', () => {
  const { pg } = usePostgres(api);
  /** A URI the test server refuses: nothing listens on port 1. */
  const unreachable = () => 'postgresql://neondb_owner:pw@127.0.0.1:1/neondb?sslmode=disable';

  it('fetches cached details anew once when they fail to connect, then connects', async () => {
    const { project } = api.fake.seedProject();
    const good = api.fake.connectionUri!;
    api.fake.connectionUri = unreachable;
    const ctx = { client: client(), signal, settings: settings() };
    const target = { project_id: project.id };
    const who = (s: Session) =>
      s.run('SELECT current_user AS u', undefined, {
        maxRows: 1,
        what: 'who',
        autocommit: true,
      });
    // Not from the cache: the failure is the answer, with no second look-up.
    await expect(onDatabase(ctx, target, who)).rejects.toBeInstanceOf(SqlConnectError);
    expect(await uriRequests()).toBe(1);
    // The failing details are cached now; Neon has the right ones.
    api.fake.connectionUri = good;
    const res = await onDatabase(ctx, target, async (s, db) => ({ rows: (await who(s)).rows, db }));
    expect(res.rows).toEqual([{ u: OWNER }]);
    expect(res.db.cached).toBe(false);
    expect(await uriRequests()).toBe(2);
    // Then the right ones are cached.
    expect((await onDatabase(ctx, target, async (_s, db) => db)).cached).toBe(true);
    expect(await uriRequests()).toBe(2);
  });

  /** The resolver, each answer marked cached, recording whether each resolve asked for a fresh one. */
  const recording = (resolver: ReturnType<typeof databaseUrlResolver>, calls: boolean[]) => ({
    ...resolver,
    resolve: async (t: object, s: AbortSignal, fresh: boolean) => {
      calls.push(fresh);
      return { ...(await resolver.resolve(t, s, fresh)), cached: true };
    },
  });

  it('tries once more only: a second failed connect is the answer', async () => {
    const calls: boolean[] = [];
    const resolver = databaseUrlResolver(unreachable());
    const connections = recording(resolver, calls);
    const ctx = { client: client(), signal, settings: settings(), connections };
    await expect(onDatabase(ctx, {}, async () => 1)).rejects.toBeInstanceOf(SqlConnectError);
    expect(calls).toEqual([false, true]);
  });

  it('does not retry an error that is not a failed connect', async () => {
    const calls: boolean[] = [];
    const resolver = databaseUrlResolver(pg.uri('postgres', OWNER));
    const connections = recording(resolver, calls);
    const ctx = { client: client(), signal, settings: settings(), connections };
    await expect(
      onDatabase(ctx, {}, async () => {
        throw new Error('from fn');
      }),
    ).rejects.toThrow('from fn');
    expect(calls).toEqual([false]);
  });

  it('says why writes are refused: read-only mode or a read-only tool', async () => {
    const connections = databaseUrlResolver(pg.uri('postgres', OWNER));
    const write = async (readOnly: boolean) => {
      const ctx = { client: client(), signal, settings: settings(readOnly), connections };
      return onDatabase(ctx, {}, async (s) => {
        s.beginReadOnly();
        await s.run('CREATE TABLE refused (id int)', undefined, {
          maxRows: 1,
          what: 'the write',
          autocommit: false,
        });
      }).then(
        () => 'written',
        (e: Error) => e.message,
      );
    };
    expect(await write(true)).toContain(
      'writes are refused: this server runs in read-only mode (--read-only), where all SQL runs in READ ONLY transactions. Nothing was changed.',
    );
    expect(await write(false)).toContain(
      'writes are refused: this tool runs SQL in a READ ONLY transaction; use run_sql to change data. Nothing was changed.',
    );
  });
});
