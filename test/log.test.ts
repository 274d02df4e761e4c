/**
 * The stderr logger (src/log.ts): the only way neon-mcp writes anything but JSON-RPC. Every line it
 * writes has each secret replaced, wherever the secret is: in the message, in an error's message, in
 * its stack, or in a thrown non-Error value.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { firstLine, redactor, stderrLogger } from '../src/log.js';
import { TEST_KEY } from './helpers.js';

let written: string[];
beforeEach(() => {
  written = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('redactor', () => {
  it('replaces every occurrence of every secret, and leaves other text alone', () => {
    const redact = redactor([TEST_KEY, 'pw-other-secret']);
    expect(redact(`a ${TEST_KEY} b ${TEST_KEY}${TEST_KEY} c pw-other-secret d`)).toBe(
      'a [redacted] b [redacted][redacted] c [redacted] d',
    );
    expect(redact('nothing secret here')).toBe('nothing secret here');
  });

  it('ignores secrets shorter than 4 characters (they would shred ordinary text)', () => {
    const redact = redactor(['abc', 'a', '', 'abcd']);
    expect(redact('abc a b abcd')).toBe('abc a b [redacted]');
  });

  it('with no usable secret returns the text unchanged', () => {
    expect(redactor([])('napi_x')).toBe('napi_x');
    expect(redactor(['xyz'])('xyz')).toBe('xyz');
  });
});

describe('stderrLogger', () => {
  it('writes one prefixed line per info message, key redacted', () => {
    const log = stderrLogger([TEST_KEY]);
    log.info(`started with key ${TEST_KEY}`);
    expect(written).toEqual(['[neon-mcp] started with key [redacted]\n']);
  });

  it('writes errors with the message and the stack, key redacted in both', () => {
    const log = stderrLogger([TEST_KEY]);
    const error = new Error(`upstream said ${TEST_KEY}`);
    error.stack = `Error: upstream said ${TEST_KEY}\n    at handler (file.ts:1:1) ${TEST_KEY}`;
    log.error(`tool x failed with ${TEST_KEY}`, error);
    expect(written).toHaveLength(1);
    expect(written[0]).toBe(
      '[neon-mcp] error: tool x failed with [redacted]: Error: upstream said [redacted]\n' +
        '    at handler (file.ts:1:1) [redacted]\n',
    );
  });

  it('redacts a password with ", \\, a newline or unicode in every escaped form a log line may hold', () => {
    const pw = 'q"uo\\te\nd-ü€-pw';
    const log = stderrLogger([pw]);
    // An error body as JSON inside a message, that message as JSON again, a URI, an SQL literal.
    const body = JSON.stringify({ password: pw });
    log.error(`request failed: ${body}`, new Error(JSON.stringify(`nested ${body}`)));
    log.info(`postgresql://u:${encodeURIComponent(pw)}@h/db and '${pw.replace(/'/g, "''")}'`);
    expect(written).toHaveLength(2);
    for (const line of written) {
      expect(line).toContain('[redacted]');
      // The password's end as it reads in each form (verbatim, escaped, percent-encoded).
      for (const part of ['d-ü€-pw', '%E2%82%AC-pw', 'q"uo', 'q\\"uo']) expect(line).not.toContain(part);
    }
  });

  it('uses the message when an error has no stack, String() for a non-Error, nothing for none', () => {
    const log = stderrLogger([TEST_KEY]);
    const noStack = new Error(`bare ${TEST_KEY}`);
    noStack.stack = undefined;
    log.error('a', noStack);
    log.error('b', { toString: () => `object ${TEST_KEY}` });
    log.error('c', 42);
    log.error('d');
    expect(written).toEqual([
      '[neon-mcp] error: a: bare [redacted]\n',
      '[neon-mcp] error: b: object [redacted]\n',
      '[neon-mcp] error: c: 42\n',
      '[neon-mcp] error: d\n',
    ]);
  });

  it('without secrets writes the text as is', () => {
    stderrLogger().info(`key ${TEST_KEY}`);
    expect(written).toEqual([`[neon-mcp] key ${TEST_KEY}\n`]);
  });

  it('never writes to stdout', () => {
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const log = stderrLogger([TEST_KEY]);
    log.info('x');
    log.error('y', new Error('z'));
    expect(stdout).not.toHaveBeenCalled();
    expect(written).toHaveLength(2);
  });
});

describe('firstLine', () => {
  it('keeps the first line of a message, cut after 300 characters', () => {
    expect(firstLine(new Error('one\ntwo'))).toBe('one');
    expect(firstLine('thrown text\nmore')).toBe('thrown text');
    expect(firstLine(new Error('x'.repeat(300)))).toBe('x'.repeat(300));
    expect(firstLine(new Error(`${'y'.repeat(301)}\nz`))).toBe(`${'y'.repeat(300)}…`);
    expect(firstLine(new Error(''))).toBe('');
  });
});
