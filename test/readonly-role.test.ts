/**
 * readerWall (src/sql/readonly-role.ts) called inside each test, so mutation testing reaches setUp in the
 * test itself (not once in a beforeAll). What a caller found is remembered in its own memory
 * (ReaderWalls, on its tenant): a test that passes none is checked anew, one that passes the same memory
 * twice is answered from it. Roles are cluster-wide: each test first puts neon_mcp_reader in the state it
 * needs.
 */

import pgDriver from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NeonClient } from '../src/client/neon-client.js';
import { NEON_RATE_LIMITS } from '../src/client/rate-limiter.js';
import { Tenants } from '../src/http/tenants.js';
import { cachesOf } from '../src/neon/context.js';
import { type Db, databaseUrlResolver, neonResolver } from '../src/neon/resolver.js';
import { connections } from '../src/sql/pools.js';
import { newReaderWalls, READER_ROLE, type ReaderWalls, readerWall } from '../src/sql/readonly-role.js';
import { type SessionTarget, withSession } from '../src/sql/session.js';
import { grantsOf, ROLE_PASSWORD, roleShape, startPostgres, type TestPostgres } from './pg/server.js';

let pg: TestPostgres;

/** Roles of these tests: one like Neon's owner, one that may create roles but not grant reading, one that may not create roles. */
const GRANTER = 'rr_granter';
const NOGRANT = 'rr_nogrant';
const PLAIN = 'rr_plain';
/**
 * A database where `current_setting('server_version_num')` answers what rr_fake.version holds, for the
 * superuser and GRANTER: their search_path there puts rr_fake before pg_catalog, so its current_setting
 * shadows the built-in one. How the check behaves on an older server, without an older server.
 */
const OLD = 'rr_old';

beforeAll(async () => {
  pg = await startPostgres();
  for (const r of [GRANTER, NOGRANT, PLAIN]) {
    await pg.query('postgres', `CREATE ROLE ${r} LOGIN PASSWORD '${ROLE_PASSWORD}'`);
  }
  await pg.query('postgres', `ALTER ROLE ${GRANTER} CREATEROLE`);
  await pg.query('postgres', `ALTER ROLE ${NOGRANT} CREATEROLE`);
  await pg.query('postgres', 'CREATE ROLE rr_neon_superuser NOLOGIN');
  await pg.query('postgres', 'GRANT pg_read_all_data TO rr_neon_superuser WITH ADMIN OPTION');
  await pg.query('postgres', `GRANT rr_neon_superuser TO ${GRANTER}`);
  await pg.query('postgres', `CREATE DATABASE ${OLD}`);
  await pg.query(
    OLD,
    `CREATE SCHEMA rr_fake;
     CREATE TABLE rr_fake.version (v text);
     INSERT INTO rr_fake.version VALUES ('130000');
     GRANT USAGE ON SCHEMA rr_fake TO PUBLIC;
     GRANT SELECT ON rr_fake.version TO PUBLIC;
     CREATE FUNCTION rr_fake.current_setting(text) RETURNS text LANGUAGE sql STABLE AS
       $$ SELECT CASE WHEN $1 = 'server_version_num' THEN (SELECT v FROM rr_fake.version)
                 ELSE pg_catalog.current_setting($1) END $$;`,
  );
  for (const r of ['postgres', GRANTER]) {
    await pg.query('postgres', `ALTER ROLE ${r} IN DATABASE ${OLD} SET search_path = rr_fake, pg_catalog`);
  }
}, 90_000);
afterAll(async () => {
  await connections.closeAll();
  await pg?.stop();
});

interface WallOptions {
  /** The caller's memory; without it the check runs anew (a target made by hand). */
  walls?: ReaderWalls;
  /** The connecting role is not named in the target. */
  anonymous?: boolean;
}

function target(database: string, role?: string, extra: WallOptions = {}): SessionTarget {
  return {
    uri: pg.uri(database, role),
    where: `database ${database}`,
    role: extra.anonymous ? undefined : role,
    readerWalls: extra.walls,
  };
}

function onSession<T>(t: SessionTarget, fn: Parameters<typeof withSession<T>>[2]) {
  return withSession(t, { signal: new AbortController().signal, timeoutMs: 10_000 }, fn);
}

async function wall(database: string, role?: string, extra: WallOptions = {}) {
  return onSession(target(database, role, extra), (s) => readerWall(s));
}

async function dropReader() {
  // DROP ROLE removes the reader's memberships and grants; it owns nothing.
  await pg.query('postgres', `DROP ROLE IF EXISTS ${READER_ROLE}`);
}

const reader = () => roleShape(pg, READER_ROLE);

/** The grants of the reader to `member`: whether it may SET ROLE to it and whether it inherits from it. */
async function grantsTo(member: string) {
  return (await grantsOf(pg, READER_ROLE, member)).map(({ set, inherit }) => ({ set, inherit }));
}

function stderrSpy() {
  return vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
}

const reasonOf = (w: Awaited<ReturnType<typeof wall>>) => (w.ok ? '' : w.reason);

describe('readerWall', () => {
  it('a superuser makes the reader: NOLOGIN, commented, pg_read_all_data only; asked twice, the caller remembers', async () => {
    await dropReader();
    const walls = newReaderWalls();
    const log = stderrSpy();
    try {
      expect(await wall('postgres', undefined, { walls })).toEqual({ ok: true, role: READER_ROLE });
      const r = await reader();
      expect(r?.login).toBe(false);
      expect(r?.comment).toMatch(/^Made by neon-mcp: the identity of its read-only SQL calls/);
      expect(r?.memberships).toEqual(['pg_read_all_data']);
      // Dropped behind its back: the same caller answers from memory; without it, it is made again.
      await dropReader();
      expect(await wall('postgres', undefined, { walls })).toEqual({ ok: true, role: READER_ROLE });
      expect(await reader()).toBeUndefined();
      expect(await wall('postgres')).toEqual({ ok: true, role: READER_ROLE });
      expect((await reader())?.memberships).toEqual(['pg_read_all_data']);
      expect(log).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
    }
  });

  it('a superuser finds a bare reader (no pg_read_all_data) and grants it', async () => {
    await dropReader();
    await pg.query('postgres', `CREATE ROLE ${READER_ROLE} NOLOGIN`);
    expect(await wall('postgres')).toEqual({ ok: true, role: READER_ROLE });
    expect((await reader())?.memberships).toEqual(['pg_read_all_data']);
  });

  it('a CREATEROLE role that may grant pg_read_all_data makes it and may become it (SET, no INHERIT)', async () => {
    await dropReader();
    expect(await wall('postgres', GRANTER)).toEqual({ ok: true, role: READER_ROLE });
    expect((await reader())?.memberships).toEqual(['pg_read_all_data']);
    const grants = await grantsTo(GRANTER);
    expect(grants.some((g) => g.set)).toBe(true);
    expect(grants.every((g) => !g.inherit)).toBe(true);
  });

  it('a reader granted without the SET option is granted again with it', async () => {
    await dropReader();
    expect((await wall('postgres', GRANTER)).ok).toBe(true);
    await pg.query('postgres', `REVOKE SET OPTION FOR ${READER_ROLE} FROM ${GRANTER} GRANTED BY ${GRANTER}`);
    expect((await grantsTo(GRANTER)).some((g) => g.set)).toBe(false);
    expect(await wall('postgres', GRANTER)).toEqual({ ok: true, role: READER_ROLE });
    expect((await grantsTo(GRANTER)).some((g) => g.set)).toBe(true);
  });

  it('a role without CREATEROLE falls back, said once per caller in the log', async () => {
    await dropReader();
    const walls = newReaderWalls();
    const log = stderrSpy();
    try {
      const w = await wall('postgres', PLAIN, { walls });
      expect(w.ok).toBe(false);
      expect(reasonOf(w)).toMatch(`the role ${PLAIN} cannot create roles (no CREATEROLE)`);
      expect(await wall('postgres', PLAIN, { walls })).toEqual(w);
      expect(log).toHaveBeenCalledTimes(1);
      expect(String(log.mock.calls[0]?.[0])).toMatch(
        /^\[neon-mcp\] Read-only SQL on database postgres runs without the privilege wall: the role rr_plain cannot create/,
      );
      expect(await reader()).toBeUndefined();
      // Another caller has not been told: its log line comes once too.
      expect(await wall('postgres', PLAIN, { walls: newReaderWalls() })).toEqual(w);
      expect(log).toHaveBeenCalledTimes(2);
    } finally {
      log.mockRestore();
    }
  });

  it('a CREATEROLE role that may not grant pg_read_all_data falls back and leaves no role behind', async () => {
    await dropReader();
    const log = stderrSpy();
    try {
      const w = await wall('postgres', NOGRANT);
      expect(reasonOf(w)).toMatch(new RegExp(`^${READER_ROLE} could not be made \\(.*pg_read_all_data`, 's'));
      // What failed is named, as PostgreSQL's error is wrapped.
      expect(reasonOf(w)).toMatch('(creating the read-only role failed on database postgres: ');
      expect(await reader()).toBeUndefined();
      expect(log).toHaveBeenCalledTimes(1);
    } finally {
      log.mockRestore();
    }
  });

  it('a CREATEROLE role cannot grant pg_read_all_data to a reader someone else made', async () => {
    await dropReader();
    await pg.query('postgres', `CREATE ROLE ${READER_ROLE} NOLOGIN`);
    const log = stderrSpy();
    try {
      const w = await wall('postgres', NOGRANT);
      expect(reasonOf(w)).toMatch(
        `pg_read_all_data cannot be granted to ${READER_ROLE} (granting pg_read_all_data failed on database postgres: `,
      );
    } finally {
      log.mockRestore();
    }
  });

  it('an existing reader that holds more than pg_read_all_data, or a login, is refused and left as it is', async () => {
    const log = stderrSpy();
    try {
      await dropReader();
      await pg.query('postgres', `CREATE ROLE ${READER_ROLE} NOLOGIN IN ROLE pg_read_all_data, pg_monitor`);
      let w = await wall('postgres');
      expect(reasonOf(w)).toMatch(
        `the role ${READER_ROLE} exists but holds more than reading (member of pg_monitor); neon-mcp does not use it`,
      );
      expect((await reader())?.memberships).toEqual(['pg_monitor', 'pg_read_all_data']);

      await dropReader();
      await pg.query('postgres', `CREATE ROLE ${READER_ROLE} LOGIN IN ROLE pg_read_all_data`);
      w = await wall('postgres');
      expect(reasonOf(w)).toMatch('(a login, superuser or other role attribute)');
      for (const attr of ['CREATEDB', 'CREATEROLE', 'REPLICATION', 'BYPASSRLS', 'SUPERUSER']) {
        await dropReader();
        await pg.query('postgres', `CREATE ROLE ${READER_ROLE} NOLOGIN ${attr}`);
        w = await wall('postgres');
        expect(w.ok, attr).toBe(false);
      }
    } finally {
      log.mockRestore();
      await dropReader();
    }
  });

  it("the memory is the caller's own: another caller on the same URI checks again", async () => {
    await dropReader();
    const a = newReaderWalls();
    expect((await wall('postgres', undefined, { walls: a })).ok).toBe(true);
    await dropReader();
    expect((await wall('postgres', undefined, { walls: a })).ok).toBe(true);
    expect(await reader()).toBeUndefined();
    expect((await wall('postgres', undefined, { walls: newReaderWalls() })).ok).toBe(true);
    expect((await reader())?.memberships).toEqual(['pg_read_all_data']);
  });

  it('the log line tells how to make the role by hand; a role not named is "the role neon-mcp connects as"', async () => {
    await dropReader();
    const log = stderrSpy();
    try {
      const w = await wall('postgres', PLAIN, { anonymous: true });
      expect(reasonOf(w)).toMatch('the role neon-mcp connects as cannot create roles');
      const line = String(log.mock.calls[0]?.[0]);
      expect(line).toMatch(
        'only built-in functions known to be safe are allowed and explain_sql refuses analyze',
      );
      expect(line).toMatch(
        'A superuser, or a role with CREATEROLE that can grant pg_read_all_data, can make the role once',
      );
      expect(line).toMatch(
        `CREATE ROLE ${READER_ROLE} NOLOGIN; GRANT pg_read_all_data TO ${READER_ROLE}; GRANT ${READER_ROLE} TO <the role neon-mcp connects as>.\n`,
      );
    } finally {
      log.mockRestore();
    }
  });

  it('a fit reader the connecting role may not become (no ADMIN on it to grant it to itself) falls back', async () => {
    await dropReader();
    await pg.query('postgres', `CREATE ROLE ${READER_ROLE} NOLOGIN IN ROLE pg_read_all_data`);
    const log = stderrSpy();
    try {
      const w = await wall('postgres', NOGRANT);
      expect(reasonOf(w)).toMatch(
        `the connecting role cannot become ${READER_ROLE} (granting the read-only role to the connecting role failed on `,
      );
    } finally {
      log.mockRestore();
      await dropReader();
    }
  });

  it('every extra membership is named', async () => {
    await dropReader();
    await pg.query(
      'postgres',
      `CREATE ROLE ${READER_ROLE} NOLOGIN IN ROLE pg_read_all_data, pg_monitor, pg_signal_backend`,
    );
    const log = stderrSpy();
    try {
      const w = await wall('postgres');
      expect(reasonOf(w)).toMatch('(member of pg_monitor, pg_signal_backend)');
    } finally {
      log.mockRestore();
      await dropReader();
    }
  });
});

describe("the caller's memory hangs off the caller", () => {
  const KEY_A = 'napi_reader_memory_key_a_0123456789';
  const KEY_B = 'napi_reader_memory_key_b_9876543210';

  it('two --http keys get two memories, one key its one; the same URI checked by B after A is checked again', async () => {
    const tenants = new Tenants(NEON_RATE_LIMITS);
    const a = tenants.get(KEY_A);
    const b = tenants.get(KEY_B);
    const db: Db = {
      project_id: 'p',
      branch_id: 'br',
      database: 'postgres',
      role: 'postgres',
      pooled: false,
      uri: pg.uri('postgres'),
      cached: false,
    };
    // One client per request, as --http makes them: a key's requests share its tenant.
    const targetOf = (key: string) =>
      neonResolver(new NeonClient({ apiKey: key, tenant: tenants.get(key) })).session(db);
    const a1 = targetOf(KEY_A);
    const a2 = targetOf(KEY_A);
    const b1 = targetOf(KEY_B);
    expect(a1.readerWalls).toBe(a.caches.readerWalls);
    expect(a2.readerWalls).toBe(a1.readerWalls);
    expect(b1.readerWalls).toBe(b.caches.readerWalls);
    expect(b1.readerWalls).not.toBe(a1.readerWalls);

    await dropReader();
    expect(await onSession(a1, readerWall)).toEqual({ ok: true, role: READER_ROLE });
    await dropReader();
    // A's second request answers from A's memory; B, on the very same URI, checks and makes it again.
    expect(await onSession(a2, readerWall)).toEqual({ ok: true, role: READER_ROLE });
    expect(await reader()).toBeUndefined();
    expect(await onSession(b1, readerWall)).toEqual({ ok: true, role: READER_ROLE });
    expect((await reader())?.memberships).toEqual(['pg_read_all_data']);
    expect([...a.caches.readerWalls.walls.keys()]).toEqual([db.uri]);
    expect([...b.caches.readerWalls.walls.keys()]).toEqual([db.uri]);
  });

  it("a client's default tenant (stdio) keeps it on that tenant; --database-url's resolver keeps one for its one caller", async () => {
    const client = new NeonClient({ apiKey: KEY_A });
    const db: Db = {
      project_id: 'p',
      branch_id: 'br',
      database: 'postgres',
      role: 'postgres',
      pooled: false,
      uri: pg.uri('postgres'),
      cached: false,
    };
    expect(neonResolver(client).session(db).readerWalls).toBe(cachesOf(client).readerWalls);
    expect(neonResolver(new NeonClient({ apiKey: KEY_A })).session(db).readerWalls).not.toBe(
      cachesOf(client).readerWalls,
    );

    const byUrl = databaseUrlResolver(pg.uri('postgres'));
    const signal = new AbortController().signal;
    const first = byUrl.session(await byUrl.resolve({}, signal, false));
    const other = byUrl.session(await byUrl.resolve({ database: 'template1' }, signal, false));
    expect(first.readerWalls).toBeDefined();
    expect(other.readerWalls).toBe(first.readerWalls);
    expect(
      databaseUrlResolver(pg.uri('postgres')).session(await byUrl.resolve({}, signal, false)).readerWalls,
    ).not.toBe(first.readerWalls);
    await dropReader();
    expect(await onSession(first, readerWall)).toEqual({ ok: true, role: READER_ROLE });
    await dropReader();
    expect(await onSession(first, readerWall)).toEqual({ ok: true, role: READER_ROLE });
    expect(await reader()).toBeUndefined();
  });
});

describe('readerWall, the paths around the check', () => {
  it('a connection lost during the check is no verdict: not said in the log, not remembered, checked again', async () => {
    await dropReader();
    const walls = newReaderWalls();
    const log = stderrSpy();
    try {
      const t = target('postgres', undefined, { walls });
      const w = await onSession(t, async (s) => {
        const { rows } = await s.exec<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await pg.query('postgres', 'SELECT pg_terminate_backend($1, 5000)', [rows[0]?.pid]);
        return readerWall(s);
      });
      expect(w.ok).toBe(false);
      expect(reasonOf(w)).toMatch(
        /^checking the role failed \(checking the read-only role failed on database postgres: the connection was lost/,
      );
      expect(walls.walls.size).toBe(0);
      expect(log).not.toHaveBeenCalled();
      expect(await reader()).toBeUndefined();
      // The next call, on a working connection, checks again and makes the reader.
      expect(await onSession(t, readerWall)).toEqual({ ok: true, role: READER_ROLE });
      expect((await reader())?.memberships).toEqual(['pg_read_all_data']);
      expect(walls.walls.size).toBe(1);
    } finally {
      log.mockRestore();
    }
  });

  it('on a server older than PostgreSQL 14 (no pg_read_all_data) nothing is made; 14 itself is enough', async () => {
    await dropReader();
    const log = stderrSpy();
    try {
      await pg.query(OLD, "UPDATE rr_fake.version SET v = '130000'");
      const w = await wall(OLD);
      expect(reasonOf(w)).toBe('the server is older than PostgreSQL 14, which has no pg_read_all_data');
      expect(await reader()).toBeUndefined();
      await pg.query(OLD, "UPDATE rr_fake.version SET v = '140000'");
      expect(await wall(OLD)).toEqual({ ok: true, role: READER_ROLE });
    } finally {
      log.mockRestore();
    }
  });

  it('before PostgreSQL 16 the reader is granted the old way (no INHERIT or SET options); from 16 with SET and without INHERIT', async () => {
    await dropReader();
    await pg.query(OLD, "UPDATE rr_fake.version SET v = '150000'");
    expect(await wall(OLD, GRANTER)).toEqual({ ok: true, role: READER_ROLE });
    // The old form on this PostgreSQL 18 takes the defaults: INHERIT as the role's own (true) and SET.
    expect(await grantsTo(GRANTER)).toContainEqual({ set: true, inherit: true });
    await dropReader();
    await pg.query(OLD, "UPDATE rr_fake.version SET v = '160000'");
    expect(await wall(OLD, GRANTER)).toEqual({ ok: true, role: READER_ROLE });
    expect(await grantsTo(GRANTER)).toContainEqual({ set: true, inherit: false });
    expect((await grantsTo(GRANTER)).some((g) => g.inherit)).toBe(false);
  });

  it("two checks making the reader at once: the one whose CREATE ROLE loses finds the other one's and uses it", async () => {
    await dropReader();
    const other = new pgDriver.Client({ connectionString: pg.uri('postgres') });
    await other.connect();
    try {
      // The other neon-mcp's transaction: the role made but not committed yet.
      await other.query(
        `BEGIN; CREATE ROLE ${READER_ROLE} NOLOGIN; GRANT pg_read_all_data TO ${READER_ROLE}`,
      );
      const pending = wall('postgres');
      // This check saw no role and now waits for the other transaction on pg_authid's unique name.
      for (let i = 0; ; i++) {
        const rows = await pg.query(
          'postgres',
          "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%CREATE ROLE%'",
        );
        if (rows.length) break;
        if (i > 200) throw new Error('the check never waited on the other CREATE ROLE');
        await new Promise((r) => setTimeout(r, 25));
      }
      await other.query('COMMIT');
      expect(await pending).toEqual({ ok: true, role: READER_ROLE });
      // The role is the other one's: no comment of this check's CREATE.
      expect(await reader()).toEqual({ login: false, comment: null, memberships: ['pg_read_all_data'] });
    } finally {
      await other.end();
      await dropReader();
    }
  });

  it('a role without CREATEROLE uses a reader made and granted to it by hand (the advice of the log line)', async () => {
    await dropReader();
    await pg.query('postgres', `CREATE ROLE ${READER_ROLE} NOLOGIN IN ROLE pg_read_all_data`);
    await pg.query('postgres', `GRANT ${READER_ROLE} TO ${PLAIN} WITH INHERIT FALSE, SET TRUE`);
    const log = stderrSpy();
    try {
      expect(await wall('postgres', PLAIN)).toEqual({ ok: true, role: READER_ROLE });
      expect(log).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
      await dropReader();
    }
  });
});
