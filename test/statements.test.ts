/**
 * The parse-tree helpers under the read-only guard (src/sql/statements.ts) on their own: what
 * parseWith gives for text, errors and positions; the order and reach of the tree walk; the names of
 * transaction keywords, functions and string constants. test/sql-guard.test.ts covers the verdicts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  functionName,
  loadParser,
  type Node,
  nodes,
  parserLoaded,
  parseWith,
  stringConstant,
  transactionKeyword,
} from '../src/sql/statements.js';

// console.log as the test started, before the parser was loaded (the load borrows it, below).
const consoleLog = console.log;
const parser = await loadParser();
const parse = (sql: string) => parseWith(parser, sql);
/** The one statement of `sql`. */
function statement(sql: string): Node {
  const res = parse(sql);
  if (!res.ok || res.statements.length !== 1) throw new Error(`not one statement: ${sql}`);
  return res.statements[0] as Node;
}
const typesIn = (tree: unknown) => [...nodes(tree)].map(([type]) => type);

describe('parseWith', () => {
  it('gives no statements for empty text or only white space, not an error', () => {
    for (const sql of ['', '   ', '\n\t ']) expect(parse(sql)).toEqual({ ok: true, statements: [] });
    // Comments are text the parser reads: no statements either.
    expect(parse('-- nothing\n/* here */')).toEqual({ ok: true, statements: [] });
    // White space as JavaScript knows it, which PostgreSQL's scanner does not skip (it reports a syntax
    // error at a lone no-break space or byte-order mark): the text is still empty, not an error.
    for (const sql of ['\u00a0', '\ufeff', ' \u2028\n']) {
      expect(parse(sql), JSON.stringify(sql)).toEqual({ ok: true, statements: [] });
    }
  });

  it('gives each statement in order', () => {
    const res = parse('SELECT 1; COMMIT; SELECT 2');
    expect(res.ok).toBe(true);
    if (!res.ok) return;
    expect(res.statements.map((s) => Object.keys(s)[0])).toEqual([
      'SelectStmt',
      'TransactionStmt',
      'SelectStmt',
    ]);
  });

  it("gives PostgreSQL's syntax error and its position, which a server would report too", () => {
    expect(parse('SELEC 1')).toEqual({
      ok: false,
      message: 'syntax error at or near "SELEC"',
      position: 0,
      unreadable: false,
    });
    expect(parse('SELECT 1 +')).toMatchObject({
      ok: false,
      message: 'syntax error at end of input',
      position: 10,
    });
    expect(parse('SELECT (1')).toMatchObject({ ok: false, unreadable: false });
  });

  it('says when it could not read the answer at all (no verdict), with the reason', () => {
    const res = parse(`SELECT ${Array(200_000).fill('1').join('+')}`);
    expect(res).toEqual({ ok: false, message: expect.stringMatching(/call stack/i), unreadable: true });
  });

  it('loads the parser once and says so', async () => {
    expect(parserLoaded()).toBe(true);
    expect(console.log).toBe(consoleLog);
    expect(await loadParser()).toBe(parser);
  });
});

describe('nodes', () => {
  it('walks every node depth first, in the order of the text', () => {
    const tree = statement("SELECT f(1, 'a'), g(2) FROM t WHERE x = 3");
    const types = typesIn(tree);
    expect(types[0]).toBe('SelectStmt');
    const calls = [...nodes(tree)].filter(([t]) => t === 'FuncCall').map(([, n]) => functionName(n).name);
    expect(calls).toEqual(['f', 'g']);
    const consts = [...nodes(tree)].filter(([t]) => t === 'A_Const').map(([, n]) => JSON.stringify(n));
    expect(consts).toHaveLength(4);
    expect(consts[0]).toMatch(/"ival":1/);
    expect(consts[1]).toMatch(/"sval":"a"/);
    expect(consts[2]).toMatch(/"ival":2/);
    expect(consts[3]).toMatch(/"ival":3/);
    expect(types).toContain('RangeVar');
    expect(types).toContain('A_Expr');
  });

  it('reaches nodes inside lists and deep nesting, and yields only node types', () => {
    const deep = statement(`SELECT ${Array(3000).fill('1').join(' + ')} + dblink('x')`);
    const found = [...nodes(deep)];
    expect(found.filter(([t]) => t === 'FuncCall')).toHaveLength(1);
    expect(found.filter(([t]) => t === 'A_Const')).toHaveLength(3001);
    for (const [type, node] of found) {
      expect(type).toMatch(/^[A-Z]/);
      expect(typeof node).toBe('object');
      expect(Array.isArray(node)).toBe(false);
    }
    // Fields (lower case) are walked but not yielded; a capitalised key holding a list or a scalar is no node.
    expect(typesIn({ stmt: { A_Const: { ival: 1 } }, List: [{ B: {} }], Scalar: 3, Null: null })).toEqual([
      'A_Const',
      'B',
    ]);
    expect(typesIn([[{ X: {} }], { Y: { Z: {} } }])).toEqual(['X', 'Y', 'Z']);
    // Only a key that starts with a capital names a node: a field with a capital further in does not.
    expect(typesIn({ someField: { A_Const: {} }, xY: {} })).toEqual(['A_Const']);
    expect(typesIn('text')).toEqual([]);
    expect(typesIn(null)).toEqual([]);
  });
});

describe('transactionKeyword', () => {
  it('names each transaction statement as it is written', () => {
    const cases: [string, string][] = [
      ['BEGIN', 'BEGIN'],
      ['START TRANSACTION', 'START TRANSACTION'],
      ['COMMIT', 'COMMIT'],
      ['END', 'COMMIT'],
      ['ROLLBACK', 'ROLLBACK'],
      ['ABORT', 'ROLLBACK'],
      ['SAVEPOINT s', 'SAVEPOINT'],
      ['RELEASE SAVEPOINT s', 'RELEASE'],
      ['ROLLBACK TO SAVEPOINT s', 'ROLLBACK TO'],
      ["PREPARE TRANSACTION 'x'", 'PREPARE TRANSACTION'],
      ["COMMIT PREPARED 'x'", 'COMMIT PREPARED'],
      ["ROLLBACK PREPARED 'x'", 'ROLLBACK PREPARED'],
    ];
    for (const [sql, keyword] of cases) {
      expect(transactionKeyword(statement(sql).TransactionStmt as Node), sql).toBe(keyword);
    }
  });

  it('falls back to "transaction control" for a kind it does not know, or none', () => {
    expect(transactionKeyword({ kind: 'TRANS_STMT_SOMETHING_NEW' })).toBe('transaction control');
    expect(transactionKeyword({})).toBe('transaction control');
    // Only the prefix is taken off: a kind merely containing it is not a known one.
    expect(transactionKeyword({ kind: 'X_TRANS_STMT_COMMIT' })).toBe('transaction control');
  });
});

describe('functionName', () => {
  const call = (sql: string) => {
    const found = [...nodes(statement(sql))].find(([t]) => t === 'FuncCall');
    if (!found) throw new Error(`no call in ${sql}`);
    return found[1];
  };

  it('lower-cases the name and keeps the schema when qualified', () => {
    // The schema only when the call names one (strict: no `schema: undefined` either).
    expect(functionName(call('SELECT DBLINK_EXEC(1)'))).toStrictEqual({ name: 'dblink_exec' });
    expect(functionName(call('SELECT public.Dblink(1)'))).toStrictEqual({ name: 'dblink', schema: 'public' });
    expect(functionName(call('SELECT "Odd"."Name"()'))).toEqual({ name: 'name', schema: 'odd' });
    expect(functionName(call('SELECT db.sch.fn()'))).toEqual({ name: 'fn', schema: 'sch' });
  });

  it('gives an empty name for a call without one', () => {
    expect(functionName({})).toStrictEqual({ name: '' });
    expect(functionName({ funcname: [{ Other: {} }] })).toEqual({ name: '' });
  });
});

describe('stringConstant', () => {
  const firstArg = (sql: string) => {
    const found = [...nodes(statement(sql))].find(([t]) => t === 'FuncCall');
    return ((found?.[1].args as unknown[]) ?? [])[0];
  };

  it('reads quoted, dollar-quoted, cast and named-argument strings', () => {
    expect(stringConstant(firstArg("SELECT f('a b')"))).toBe('a b');
    expect(stringConstant(firstArg('SELECT f($$x$$)'))).toBe('x');
    expect(stringConstant(firstArg("SELECT f('y'::text)"))).toBe('y');
    expect(stringConstant(firstArg("SELECT f(q => 'z')"))).toBe('z');
    expect(stringConstant(firstArg("SELECT f(q => 'w'::text)"))).toBe('w');
  });

  it("gives '' for the empty string and undefined for anything that is not a string constant", () => {
    expect(stringConstant(firstArg("SELECT f('')"))).toBe('');
    expect(stringConstant(firstArg('SELECT f(1)'))).toBeUndefined();
    expect(stringConstant(firstArg('SELECT f(x)'))).toBeUndefined();
    expect(stringConstant(firstArg("SELECT f('a' || 'b')"))).toBeUndefined();
    expect(stringConstant(undefined)).toBeUndefined();
    // A JSON null in the tree (an absent argument) is no constant, and no error.
    expect(stringConstant(null)).toBeUndefined();
    expect(stringConstant('text')).toBeUndefined();
  });
});

describe('loadParser on a fresh copy of the module', () => {
  // A copy of statements.ts of its own, with libpg-query replaced, so that the load can be watched and
  // made to fail; the parser used by the tests above is untouched.
  afterEach(() => {
    vi.doUnmock('libpg-query');
    vi.resetModules();
  });
  const freshWith = async (loadModule: () => Promise<void>) => {
    vi.resetModules();
    const fake = { loadModule, parseSync: () => ({ stmts: [] }) };
    vi.doMock('libpg-query', () => ({ ...fake, default: fake }));
    return import('../src/sql/statements.js');
  };

  it('sends to stderr whatever the parser prints while it loads, and gives console.log back', async () => {
    const during: unknown[] = [];
    const fresh = await freshWith(async () => {
      during.push(console.log);
    });
    expect(fresh.parserLoaded()).toBe(false);
    await fresh.loadParser();
    expect(during).toEqual([console.error]);
    expect(console.log).toBe(consoleLog);
    expect(fresh.parserLoaded()).toBe(true);
  });

  it('retries a failed load on the next call, and gives console.log back after the failure too', async () => {
    let attempts = 0;
    const fresh = await freshWith(async () => {
      attempts++;
      if (attempts === 1) throw new Error('the WebAssembly module did not load');
    });
    await expect(fresh.loadParser()).rejects.toThrow('the WebAssembly module did not load');
    expect(console.log).toBe(consoleLog);
    expect(fresh.parserLoaded()).toBe(false);
    const parser = await fresh.loadParser();
    expect(attempts).toBe(2);
    expect(fresh.parserLoaded()).toBe(true);
    expect(await fresh.loadParser()).toBe(parser);
    expect(attempts).toBe(2);
  });
});
