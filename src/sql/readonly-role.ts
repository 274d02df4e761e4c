/**
 * The privilege wall of read-only calls: statements that must not write run in a READ ONLY transaction
 * AND under `SET LOCAL ROLE neon_mcp_reader`, a role that can read every table (PostgreSQL's predefined
 * role pg_read_all_data) and nothing else. As that role PostgreSQL itself refuses what the transaction
 * mode lets through: signalling another backend (pg_terminate_backend needs pg_signal_backend or
 * membership in the target's role), reading or writing server files (pg_read_server_files …), large
 * object writes, replication functions; and a write is refused twice (transaction mode, then privilege).
 *
 * The role is made once per server (roles are cluster-wide) by the connecting role when it can: a
 * superuser (local mode, most --database-url servers) or a role with CREATEROLE and the right to grant
 * pg_read_all_data. It is NOLOGIN, holds only pg_read_all_data, carries a comment saying what made it,
 * and `DROP ROLE neon_mcp_reader` removes it (neon-mcp makes it again on its next read-only call).
 *
 * Where it cannot be had (the role cannot create roles or grant pg_read_all_data, a server older than
 * PostgreSQL 14, or a role of that name that holds more than it should), the wall is missing: that is
 * said once in the log, and the checks of guard.ts get stricter (only built-in functions known to be safe,
 * no EXPLAIN ANALYZE). See docs/SECURITY.md, "Read-only SQL".
 *
 * The idea of making a limited role with SQL comes from limited-roles.ts (createLimitedRole); that one makes a
 * login role for a person, this one a NOLOGIN identity for neon-mcp's own read-only calls.
 */
import { INTERNAL_MARK, type Session } from './session.js';

export const READER_ROLE = 'neon_mcp_reader';

/** The predefined roles the reader may hold: reading data only. */
const READER_MEMBERSHIPS = ['pg_read_all_data'];

export type Wall = { ok: true; role: string } | { ok: false; reason: string };

/**
 * What one caller remembers of the reader on its servers: the check's answer per server URI (so it runs
 * once per caller and server) and the servers whose missing wall it already reported. It hangs off the
 * caller's tenant (src/neon/context.ts, CallerCaches; --database-url: its resolver), never a module-level
 * table, so two --http callers cannot share it and forgetting a caller forgets it.
 */
export interface ReaderWalls {
  readonly walls: Map<string, Promise<Wall>>;
  readonly reported: Set<string>;
}

export function newReaderWalls(): ReaderWalls {
  return { walls: new Map(), reported: new Set() };
}

/**
 * The privilege wall for read-only calls on this session's server: the role to `SET LOCAL ROLE` to, or
 * why there is none. Run outside any transaction of the call (it may create the role and commit).
 */
export async function readerWall(s: Session): Promise<Wall> {
  // A target without the caller's memory (made by hand, not by a resolver) is checked on every call.
  const { walls, reported } = s.target.readerWalls ?? newReaderWalls();
  const key = s.target.uri;
  let pending = walls.get(key);
  if (!pending) {
    pending = setUp(s).catch((e) => {
      // A failure of the check itself (a lost connection) is not a verdict: asked again next call.
      walls.delete(key);
      return {
        ok: false as const,
        reason: `checking the role failed (${e instanceof Error ? e.message : String(e)})`,
      };
    });
    walls.set(key, pending);
  }
  const wall = await pending;
  if (!wall.ok && walls.has(key) && !reported.has(key)) {
    reported.add(key);
    // Once per server and caller, on stderr (the log): the person can act on it, the agent cannot.
    process.stderr.write(
      `[neon-mcp] Read-only SQL on ${s.target.where} runs without the privilege wall: ${wall.reason}. ` +
        'Read-only calls still run in READ ONLY transactions, but only built-in functions known to be safe ' +
        'are allowed and explain_sql refuses analyze. A superuser, or a role with CREATEROLE that can grant ' +
        `pg_read_all_data, can make the role once: CREATE ROLE ${READER_ROLE} NOLOGIN; ` +
        `GRANT pg_read_all_data TO ${READER_ROLE}; GRANT ${READER_ROLE} TO <the role neon-mcp connects as>.\n`,
    );
  }
  return wall;
}

interface State extends Record<string, unknown> {
  version: number;
  exists: boolean;
  can_create: boolean;
  superuser: boolean;
  reader_super: boolean | null;
  memberships: string[] | null;
}

async function state(s: Session): Promise<State> {
  const { rows } = await s.exec<State>(
    `SELECT ${INTERNAL_MARK} current_setting('server_version_num')::int AS version,
       r.oid IS NOT NULL AS exists,
       me.rolsuper OR me.rolcreaterole AS can_create,
       me.rolsuper AS superuser,
       r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls OR r.rolcanlogin AS reader_super,
       (SELECT array_agg(g.rolname::text ORDER BY g.rolname) FROM pg_catalog.pg_auth_members m
          JOIN pg_catalog.pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) AS memberships
     FROM pg_catalog.pg_roles me LEFT JOIN pg_catalog.pg_roles r ON r.rolname = $1
     WHERE me.rolname = current_user`,
    [READER_ROLE],
    'checking the read-only role',
  );
  const row = rows[0];
  if (!row) throw new Error('the connecting role is not in pg_roles');
  return row;
}

async function setUp(s: Session): Promise<Wall> {
  const role = s.client.escapeIdentifier(READER_ROLE);
  let st = await state(s);
  if (st.version < 140000) {
    return { ok: false, reason: 'the server is older than PostgreSQL 14, which has no pg_read_all_data' };
  }
  if (!st.exists) {
    if (!st.can_create) {
      return {
        ok: false,
        reason: `the role ${s.target.role ?? 'neon-mcp connects as'} cannot create roles (no CREATEROLE), so ${READER_ROLE} cannot be made`,
      };
    }
    try {
      await s.exec(
        `BEGIN; CREATE ROLE ${role} NOLOGIN; ` +
          `COMMENT ON ROLE ${role} IS 'Made by neon-mcp: the identity of its read-only SQL calls (reads only; pg_read_all_data). Safe to drop; neon-mcp makes it again when needed.'; ` +
          `GRANT pg_read_all_data TO ${role}; COMMIT`,
        undefined,
        'creating the read-only role',
      );
    } catch (e) {
      await s.exec('ROLLBACK').catch(() => undefined);
      // Another neon-mcp may have made it at the same moment: look again below.
      st = await state(s);
      if (!st.exists) {
        return {
          ok: false,
          reason: `${READER_ROLE} could not be made (${e instanceof Error ? e.message : String(e)})`,
        };
      }
    }
    st = await state(s);
  }
  const memberships = st.memberships ?? [];
  const extra = memberships.filter((m) => !READER_MEMBERSHIPS.includes(m));
  if (st.reader_super || extra.length) {
    return {
      ok: false,
      reason:
        `the role ${READER_ROLE} exists but holds more than reading` +
        (extra.length
          ? ` (member of ${extra.join(', ')})`
          : ' (a login, superuser or other role attribute)') +
        '; neon-mcp does not use it. Drop it (DROP ROLE) and neon-mcp makes it anew',
    };
  }
  if (!memberships.includes('pg_read_all_data')) {
    try {
      await s.exec(`GRANT pg_read_all_data TO ${role}`, undefined, 'granting pg_read_all_data');
    } catch (e) {
      return {
        ok: false,
        reason: `pg_read_all_data cannot be granted to ${READER_ROLE} (${e instanceof Error ? e.message : String(e)})`,
      };
    }
  }
  // SET ROLE needs membership (with the SET option on PostgreSQL 16 and later). INHERIT FALSE: the
  // connecting role gains nothing from it; it only may become it.
  if (!(await canSetRole(s, role))) {
    try {
      await s.exec(
        st.version >= 160000
          ? `GRANT ${role} TO CURRENT_USER WITH INHERIT FALSE, SET TRUE`
          : `GRANT ${role} TO CURRENT_USER`,
        undefined,
        'granting the read-only role to the connecting role',
      );
    } catch (e) {
      return {
        ok: false,
        reason: `the connecting role cannot become ${READER_ROLE} (${e instanceof Error ? e.message : String(e)})`,
      };
    }
    if (!(await canSetRole(s, role))) {
      return { ok: false, reason: `the connecting role cannot become ${READER_ROLE}` };
    }
  }
  return { ok: true, role: READER_ROLE };
}

/** Whether `SET LOCAL ROLE` to the reader works here, tried in a transaction that is rolled back. */
async function canSetRole(s: Session, role: string): Promise<boolean> {
  try {
    await s.exec(`BEGIN; SET LOCAL ROLE ${role}`, undefined, 'trying the read-only role');
    return true;
  } catch {
    return false;
  } finally {
    await s.exec('ROLLBACK').catch(() => undefined);
  }
}
