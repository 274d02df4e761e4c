/**
 * Hostile answers and faults outside SQL (issue 10): writes that Neon may have applied are not sent
 * again, answers are bounded in bytes and in time (headers and body), redirects are refused, secrets
 * are redacted before anything is shortened, and a scoped server follows nothing outside its project.
 * HTTP-level cases (stalls, resets mid-body, redirects, sizes) are in test/http-limits.test.ts.
 */
import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { NeonClient } from '../src/client/index.js';
import { base64Forms, redactor } from '../src/client/redact.js';
import { BASE, connect, neonError, TEST_KEY, text, useMockApi } from './helpers.js';

const api = useMockApi();

describe('no write is sent twice when Neon may have applied it', () => {
  it('a create_compute that Neon applies and then answers 503 makes exactly one compute', async () => {
    const { project, branch } = api.fake.seedProject('dup');
    api.use(
      http.post(`${BASE}/projects/:project_id/endpoints`, () => {
        // Neon did the work, then the answer was lost behind a 503.
        api.fake.makeEndpoint(project.id as string, branch.id as string, 'read_only');
        return neonError(503, 'upstream connect error');
      }),
    );
    const conn = await connect({ toolsets: ['all'] });
    const res = await conn.call('create_compute', {
      project_id: project.id,
      branch_id: branch.id,
      type: 'read_only',
    });
    await api.settle();
    await conn.close();
    expect(res.isError).toBe(true);
    expect(api.count('POST', `/projects/${project.id}/endpoints`)).toBe(1);
    const readOnly = api.fake
      .endpointsOf(project.id as string, branch.id as string)
      .filter((e) => e.type === 'read_only');
    expect(readOnly).toHaveLength(1);
    // The agent hears that it may have happened, and how to look.
    expect(text(res)).toMatch(/may or may not have been applied/);
    expect(text(res)).toMatch(/list or get/);
    expect(text(res)).toMatch(/not sent again/);
  });

  it('a write is still retried on 429 and 423 (Neon did not process it)', async () => {
    for (const status of [429, 423]) {
      let n = 0;
      api.use(
        http.post(`${BASE}/projects`, () => (n++ === 0 ? neonError(status, 'not now') : undefined), {
          once: false,
        }),
      );
      const before = api.count('POST', '/projects');
      const client = new NeonClient({
        apiKey: TEST_KEY,
        baseUrl: BASE,
        retryDelayMs: 1,
        maxRetryDelayMs: 20,
      });
      await expect(client.post('/projects', { body: { project: { name: 'x' } } })).resolves.toBeDefined();
      await api.settle();
      expect(api.count('POST', '/projects') - before, `HTTP ${status}`).toBe(2);
    }
  });
});

describe('secrets in error bodies', () => {
  const PASSWORD = 'npg_S3cretRolePassw0rd';

  it('a long non-JSON error body is redacted before it is cut: no part of the key leaks', async () => {
    // The key starts at character 288: cutting at 300 first would leave its first 12 characters.
    const body = `${'x'.repeat(288)}${TEST_KEY} and more text after it`;
    api.use(
      http.get(
        `${BASE}/projects/:id`,
        () => new HttpResponse(body, { status: 502, headers: { 'content-type': 'text/plain' } }),
      ),
    );
    const conn = await connect({ clientOptions: { retries: 0 } });
    const message = await conn.fails('get_project', { project_id: 'p-1' });
    await conn.close();
    expect(message).toMatch(/HTTP 502/);
    for (let n = 6; n <= TEST_KEY.length; n++) expect(message).not.toContain(TEST_KEY.slice(0, n));
  });

  it('passwords inside connection URIs and base64 forms of the key are redacted in errors', async () => {
    const uri = `postgresql://neondb_owner:${PASSWORD}@ep-cool-name.eu-central-1.aws.neon.tech/neondb?sslmode=require`;
    const basic = Buffer.from(`user:${TEST_KEY}`).toString('base64');
    api.use(
      http.get(`${BASE}/projects/:id`, () =>
        HttpResponse.json(
          {
            code: 'X',
            message: `cannot reach ${uri}; auth was Basic ${basic}; key ${Buffer.from(TEST_KEY).toString('base64')}`,
          },
          { status: 400 },
        ),
      ),
    );
    const conn = await connect();
    const message = await conn.fails('get_project', { project_id: 'p-1' });
    await conn.close();
    expect(message).toContain('postgresql://neondb_owner:[redacted]@ep-cool-name');
    expect(message).not.toContain(PASSWORD);
    for (const form of base64Forms(TEST_KEY)) expect(message).not.toContain(form);
    expect(message).not.toContain(basic.slice(8, 40));
  });

  it('the redactor finds the key at every base64 alignment, and leaves successful connection strings alone', () => {
    const redact = redactor([TEST_KEY]);
    for (const prefix of ['', 'a', 'ab', 'abc:']) {
      const encoded = Buffer.from(`${prefix}${TEST_KEY}!`).toString('base64');
      const url = Buffer.from(`${prefix}${TEST_KEY}!`).toString('base64url');
      expect(redact(encoded), prefix).toContain('[redacted]');
      expect(redact(url), prefix).toContain('[redacted]');
    }
    const keep = redactor([TEST_KEY], { uriPasswords: false });
    expect(keep(`postgres://a:${PASSWORD}@h/d`)).toContain(PASSWORD);
    expect(redact(`postgres://a:${PASSWORD}@h/d`)).toBe('postgres://a:[redacted]@h/d');
    // Not a URI with a password: left as is.
    expect(redact('https://console.neon.tech:443/app/projects')).toBe(
      'https://console.neon.tech:443/app/projects',
    );
  });
});

describe('a scoped server requests nothing outside its project', () => {
  it('an answer naming an operation of another project is not polled, and the agent is told', async () => {
    const { project } = api.fake.seedProject('mine');
    const other = api.fake.seedProject('theirs').project;
    api.use(
      http.post(`${BASE}/projects/:project_id/branches`, async () => {
        const [op] = api.fake.startOperations(other.id as string, [{ action: 'create_branch' }]);
        return HttpResponse.json(
          {
            branch: { id: 'br-new', project_id: project.id, name: 'b' },
            endpoints: [],
            operations: [{ ...op }],
          },
          { status: 201 },
        );
      }),
    );
    const conn = await connect({ toolsets: ['all'], projectId: project.id as string });
    const res = await conn.call('create_branch', { name: 'b' });
    await api.settle();
    await conn.close();
    expect(res.isError).toBe(true);
    const touched = api.requests.filter((r) => r.path.includes(other.id as string));
    expect(touched, 'requests to the other project').toEqual([]);
    expect(text(res)).toMatch(new RegExp(`of project ${other.id}.*outside project ${project.id}`));
    expect(text(res)).toMatch(/not polled/);
    expect(text(res)).toMatch(/may have been applied/);
  });

  it('a poll answer that names another project is not followed there', async () => {
    const { project } = api.fake.seedProject('mine');
    const other = api.fake.seedProject('theirs').project;
    api.fake.operationPolls = 1_000;
    api.use(
      http.get(`${BASE}/projects/:project_id/operations/:operation_id`, ({ params }) =>
        HttpResponse.json({
          operation: {
            id: params.operation_id,
            project_id: other.id,
            action: 'create_branch',
            status: 'running',
            failures_count: 0,
            created_at: new Date().toISOString(),
            updated_at: new Date().toISOString(),
          },
        }),
      ),
    );
    const conn = await connect({ toolsets: ['all'], projectId: project.id as string });
    const res = await conn.call('create_branch', { name: 'b2' });
    await api.settle();
    await conn.close();
    expect(res.isError).toBe(true);
    expect(api.requests.filter((r) => r.path.includes(other.id as string))).toEqual([]);
    expect(text(res)).toMatch(/accepted/);
  });
});
