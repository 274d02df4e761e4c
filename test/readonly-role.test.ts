/**
 * readerWall (src/sql/readonly-role.ts) called inside each test, on a fresh database each: the wall is
 * remembered per connection target (tenant and URI) for the process, so a new database is a new target
 * and setUp runs again in the test itself (where mutation testing can reach it), not once in a beforeAll.
 * Roles are cluster-wide: each test first puts neon_mcp_reader in the state it needs.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connections } from '../src/sql/pools.js';
import { READER_ROLE, readerWall } from '../src/sql/readonly-role.js';
import { withSession } from '../src/sql/session.js';
import { grantsOf, ROLE_PASSWORD, roleShape, startPostgres, type TestPostgres } from './pg/server.js';

let pg: TestPostgres;
let n = 0;

/** Roles of these tests: one like Neon's owner, one that may create roles but not grant reading, one that may not create roles. */
const GRANTER = 'rr_granter';
const NOGRANT = 'rr_nogrant';
const PLAIN = 'rr_plain';

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
}, 90_000);
afterAll(async () => {
  await connections.closeAll();
  await pg?.stop();
});

/** A database no earlier call has seen, so readerWall's per-process memory does not answer for it. */
async function freshDatabase(): Promise<string> {
  const name = `rr_db_${++n}`;
  await pg.query('postgres', `CREATE DATABASE ${name}`);
  return name;
}

async function wall(database: string, role?: string, extra: { tenant?: string; anonymous?: boolean } = {}) {
  const target = {
    uri: pg.uri(database, role),
    where: `database ${database}`,
    role: extra.anonymous ? undefined : role,
    tenant: extra.tenant,
  };
  return withSession(target, { signal: new AbortController().signal, timeoutMs: 10_000 }, (s) =>
    readerWall(s),
  );
}

async function dropReader() {
  // Grants of the reader made by a role must go before the role can be dropped: DROP OWNED is not needed
  // (it owns nothing), DROP ROLE removes its memberships.
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

describe('readerWall on a fresh target', () => {
  it('a superuser makes the reader: NOLOGIN, commented, pg_read_all_data only; asked twice, it is remembered', async () => {
    await dropReader();
    const db = await freshDatabase();
    const log = stderrSpy();
    try {
      expect(await wall(db)).toEqual({ ok: true, role: READER_ROLE });
      const r = await reader();
      expect(r?.login).toBe(false);
      expect(r?.comment).toMatch(/^Made by neon-mcp: the identity of its read-only SQL calls/);
      expect(r?.memberships).toEqual(['pg_read_all_data']);
      // Dropped behind its back: the same target answers from memory, a new one makes it again.
      await dropReader();
      expect(await wall(db)).toEqual({ ok: true, role: READER_ROLE });
      expect(await reader()).toBeUndefined();
      expect(await wall(await freshDatabase())).toEqual({ ok: true, role: READER_ROLE });
      expect((await reader())?.memberships).toEqual(['pg_read_all_data']);
      expect(log).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
    }
  });

  it('a superuser finds a bare reader (no pg_read_all_data) and grants it', async () => {
    await dropReader();
    await pg.query('postgres', `CREATE ROLE ${READER_ROLE} NOLOGIN`);
    expect(await wall(await freshDatabase())).toEqual({ ok: true, role: READER_ROLE });
    expect((await reader())?.memberships).toEqual(['pg_read_all_data']);
  });

  it('a CREATEROLE role that may grant pg_read_all_data makes it and may become it (SET, no INHERIT)', async () => {
    await dropReader();
    expect(await wall(await freshDatabase(), GRANTER)).toEqual({ ok: true, role: READER_ROLE });
    expect((await reader())?.memberships).toEqual(['pg_read_all_data']);
    const grants = await grantsTo(GRANTER);
    expect(grants.some((g) => g.set)).toBe(true);
    expect(grants.every((g) => !g.inherit)).toBe(true);
  });

  it('a reader granted without the SET option is granted again with it', async () => {
    await dropReader();
    expect((await wall(await freshDatabase(), GRANTER)).ok).toBe(true);
    await pg.query('postgres', `REVOKE SET OPTION FOR ${READER_ROLE} FROM ${GRANTER} GRANTED BY ${GRANTER}`);
    expect((await grantsTo(GRANTER)).some((g) => g.set)).toBe(false);
    expect(await wall(await freshDatabase(), GRANTER)).toEqual({ ok: true, role: READER_ROLE });
    expect((await grantsTo(GRANTER)).some((g) => g.set)).toBe(true);
  });

  it('a role without CREATEROLE falls back, said once in the log', async () => {
    await dropReader();
    const db = await freshDatabase();
    const log = stderrSpy();
    try {
      const w = await wall(db, PLAIN);
      expect(w.ok).toBe(false);
      expect(w.ok ? '' : w.reason).toMatch(`the role ${PLAIN} cannot create roles (no CREATEROLE)`);
      expect(await wall(db, PLAIN)).toEqual(w);
      expect(log).toHaveBeenCalledTimes(1);
      expect(String(log.mock.calls[0]?.[0])).toMatch(
        /runs without the privilege wall: the role rr_plain cannot create/,
      );
      expect(await reader()).toBeUndefined();
    } finally {
      log.mockRestore();
    }
  });

  it('a CREATEROLE role that may not grant pg_read_all_data falls back and leaves no role behind', async () => {
    await dropReader();
    const log = stderrSpy();
    try {
      const w = await wall(await freshDatabase(), NOGRANT);
      expect(w.ok ? '' : w.reason).toMatch(
        new RegExp(`^${READER_ROLE} could not be made \\(.*pg_read_all_data`, 's'),
      );
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
      const w = await wall(await freshDatabase(), NOGRANT);
      expect(w.ok ? '' : w.reason).toMatch(`pg_read_all_data cannot be granted to ${READER_ROLE} (`);
    } finally {
      log.mockRestore();
    }
  });

  it('an existing reader that holds more than pg_read_all_data, or a login, is refused and left as it is', async () => {
    const log = stderrSpy();
    try {
      await dropReader();
      await pg.query('postgres', `CREATE ROLE ${READER_ROLE} NOLOGIN IN ROLE pg_read_all_data, pg_monitor`);
      let w = await wall(await freshDatabase());
      expect(w.ok ? '' : w.reason).toMatch(
        `the role ${READER_ROLE} exists but holds more than reading (member of pg_monitor); neon-mcp does not use it`,
      );
      expect((await reader())?.memberships).toEqual(['pg_monitor', 'pg_read_all_data']);

      await dropReader();
      await pg.query('postgres', `CREATE ROLE ${READER_ROLE} LOGIN IN ROLE pg_read_all_data`);
      w = await wall(await freshDatabase());
      expect(w.ok ? '' : w.reason).toMatch('(a login, superuser or other role attribute)');
      for (const attr of ['CREATEDB', 'CREATEROLE', 'REPLICATION', 'BYPASSRLS', 'SUPERUSER']) {
        await dropReader();
        await pg.query('postgres', `CREATE ROLE ${READER_ROLE} NOLOGIN ${attr}`);
        w = await wall(await freshDatabase());
        expect(w.ok, attr).toBe(false);
      }
    } finally {
      log.mockRestore();
      await dropReader();
    }
  });

  it('the memory is per tenant too: another key on the same URI checks again', async () => {
    await dropReader();
    const db = await freshDatabase();
    expect((await wall(db, undefined, { tenant: 'key-a' })).ok).toBe(true);
    await dropReader();
    expect((await wall(db, undefined, { tenant: 'key-b' })).ok).toBe(true);
    expect((await reader())?.memberships).toEqual(['pg_read_all_data']);
  });

  it('the log line tells how to make the role by hand; a role not named is "the role neon-mcp connects as"', async () => {
    await dropReader();
    const log = stderrSpy();
    try {
      const w = await wall(await freshDatabase(), PLAIN, { anonymous: true });
      expect(w.ok ? '' : w.reason).toMatch('the role neon-mcp connects as cannot create roles');
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
      const w = await wall(await freshDatabase(), NOGRANT);
      expect(w.ok ? '' : w.reason).toMatch(`the connecting role cannot become ${READER_ROLE} (`);
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
      const w = await wall(await freshDatabase());
      expect(w.ok ? '' : w.reason).toMatch('(member of pg_monitor, pg_signal_backend)');
    } finally {
      log.mockRestore();
      await dropReader();
    }
  });
});
