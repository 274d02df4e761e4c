import { describe, expect, it } from 'vitest';
import { validateRequest } from './mock/spec.js';

const q = (s = '') => new URLSearchParams(s);

describe('the OpenAPI request check used by the mock layer', () => {
  it('accepts a valid request', () => {
    expect(
      validateRequest('POST', '/projects/p-1/branches', q(), {
        branch: { name: 'dev' },
        endpoints: [{ type: 'read_write' }],
      }),
    ).toEqual([]);
    expect(validateRequest('GET', '/projects', q('limit=10&search=x'), undefined)).toEqual([]);
  });

  it('rejects unknown paths, bad path parameters, unknown or ill-typed query parameters and bad bodies', () => {
    expect(validateRequest('GET', '/projectz', q(), undefined)[0]).toMatch(/no such operation/);
    expect(validateRequest('GET', '/projects/UPPER_case', q(), undefined)[0]).toMatch(
      /path parameter project_id/,
    );
    expect(validateRequest('GET', '/projects', q('colour=red'), undefined)[0]).toMatch(
      /unknown query parameter colour/,
    );
    expect(validateRequest('GET', '/projects', q('limit=abc'), undefined)[0]).toMatch(
      /query parameter limit/,
    );
    expect(
      validateRequest('POST', '/projects/p-1/branches', q(), { endpoints: [{ type: 'sideways' }] })[0],
    ).toMatch(/body/);
    expect(
      validateRequest('GET', '/projects/p-1/connection_uri', q('database_name=x'), undefined)[0],
    ).toMatch(/missing required query parameter role_name/);
  });

  it('prefers literal path segments over parameters', () => {
    expect(validateRequest('GET', '/projects/shared', q('limit=5'), undefined)).toEqual([]);
  });
});
