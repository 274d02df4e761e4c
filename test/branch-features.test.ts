import { inflateRawSync } from 'node:zlib';
import { HttpResponse, http } from 'msw';
import { afterEach, describe, expect, it } from 'vitest';
import { zipFiles } from '../src/tools/functions.js';
import { BASE, connect, neonError, useMockApi } from './helpers.js';
import { handleDeployment } from './mock/functions.js';
import { features } from './mock/stores.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

function setup() {
  const { project, branch } = api.fake.seedProject('features');
  return { project_id: project.id, branch_id: branch.id };
}

const rule = (column: string, masking_function = 'anon.fake_email()') => ({
  database_name: 'neondb',
  schema_name: 'public',
  table_name: 'users',
  column_name: column,
  masking_function,
});

describe('anonymized branches', () => {
  it('creates an anonymized branch with a compute, waiting for its operations and re-reading it', async () => {
    const { project_id, branch_id } = setup();
    conn = await connect({ toolsets: ['anonymization'] });
    const out = await conn.ok('create_anonymized_branch', { project_id, name: 'masked' });
    expect(out.branch).toMatchObject({ name: 'masked', parent_id: branch_id, current_state: 'ready' });
    expect(out.compute).toMatchObject({ type: 'read_write', branch_id: out.branch.id });
    expect(api.requests.find((r) => r.path.endsWith('/branch_anonymized'))?.body).toEqual({
      branch_create: { branch: { name: 'masked' }, endpoints: [{ type: 'read_write' }] },
    });
    expect([...api.fake.operations.values()].every((o) => o.status === 'finished')).toBe(true);
    const got = await conn.ok('get_branch_anonymization', { project_id, branch_id: out.branch.id });
    expect(got).toMatchObject({ status: { state: 'initialized' }, masking_rules: [] });
  });

  it('creates without a compute', async () => {
    const { project_id } = setup();
    conn = await connect({ toolsets: ['anonymization'] });
    const out = await conn.ok('create_anonymized_branch', { project_id, compute: false });
    expect(out.compute).toBeUndefined();
    expect(api.requests.find((r) => r.path.endsWith('/branch_anonymized'))?.body).toEqual({
      branch_create: { branch: {} },
    });
  });

  it('replaces the rules, anonymizes and waits until done; a re-run keeps the rules', async () => {
    const { project_id } = setup();
    features(api.fake).anonymizePolls = 2;
    conn = await connect({ toolsets: ['anonymization'] });
    const created = await conn.ok('create_anonymized_branch', { project_id });
    const ids = { project_id, branch_id: created.branch.id };

    const { masking_function: _, ...phone } = { ...rule('phone'), masking_value: '000' };
    const rules = [rule('email'), phone];
    const out = await conn.ok('anonymize_branch', { ...ids, masking_rules: rules });
    expect(out.status).toMatchObject({ state: 'anonymized', last_run: { masked_columns: 2 } });
    expect(out.note).toBeUndefined();
    expect(api.requests.find((r) => r.method === 'PATCH')?.body).toEqual({ masking_rules: rules });
    // Polled until the state left `anonymizing` (2 polls answered it, the third did not).
    expect(api.count('GET', /\/anonymized_status$/)).toBe(3);
    expect((await conn.ok('get_branch_anonymization', ids)).masking_rules).toEqual(rules);

    const again = await conn.ok('anonymize_branch', ids);
    expect(again.status.state).toBe('anonymized');
    expect(api.count('PATCH', /\/masking_rules$/)).toBe(1);
  });

  it('fails when the masking fails, saying what to fix', async () => {
    const { project_id } = setup();
    conn = await connect({ toolsets: ['anonymization'] });
    const created = await conn.ok('create_anonymized_branch', { project_id });
    const err = await conn.fails('anonymize_branch', {
      project_id,
      branch_id: created.branch.id,
      masking_rules: [rule('email', 'anon.broken()')],
    });
    expect(err).toMatch(
      /ended in state "error": function anon.broken\(\) does not exist.*anonymize_branch again/,
    );
  });

  it('a status answer without a state fails at once instead of polling until the timeout', async () => {
    const { project_id } = setup();
    conn = await connect({ toolsets: ['anonymization'] });
    const created = await conn.ok('create_anonymized_branch', { project_id });
    api.use(
      http.get(`${BASE}/projects/:project_id/branches/:branch_id/anonymized_status`, () =>
        HttpResponse.json({ unexpected: true }),
      ),
    );
    const err = await conn.fails('anonymize_branch', { project_id, branch_id: created.branch.id });
    expect(err).toMatch(
      /^Neon's answer to GET \/projects\/\S+\/branches\/\S+\/anonymized_status has no state \(an unexpected answer\)\. Check later with get_branch_anonymization\./,
    );
    expect(api.count('GET', /\/anonymized_status$/)).toBe(1);
  });

  it('refuses masking rules missing a column before sending, and passes Neon’s 404 for a normal branch', async () => {
    const { project_id, branch_id } = setup();
    conn = await connect({ toolsets: ['anonymization'] });
    const err = await conn.fails('anonymize_branch', {
      project_id,
      branch_id,
      masking_rules: [{ database_name: 'neondb', schema_name: 'public', table_name: 'users' }],
    });
    expect(err).toMatch(/masking_rules\.0\.column_name/);
    expect(api.requests).toHaveLength(0);
    expect(await conn.fails('get_branch_anonymization', { project_id, branch_id })).toMatch(
      /HTTP 404: branch .* is not an anonymized branch/,
    );
    expect(await conn.fails('anonymize_branch', { project_id, branch_id })).toMatch(/HTTP 404/);
  });
});

describe('Data API', () => {
  it('creates, reads, updates (settings merged, schema cache refreshed) and deletes a Data API', async () => {
    const ids = { ...setup(), database: 'neondb' };
    conn = await connect({ toolsets: ['data_api'] });
    const created = await conn.ok('create_data_api', {
      ...ids,
      jwks_url: 'https://auth.example.com/.well-known/jwks.json',
      settings: { db_schemas: ['public', 'api'], db_max_rows: 500 },
    });
    expect(created.data_api).toMatchObject({
      url: expect.stringMatching(/^https:\/\//),
      status: 'ready',
      settings: { db_schemas: ['public', 'api'], db_max_rows: 500 },
    });
    expect(api.requests.find((r) => r.method === 'POST')?.body).toEqual({
      auth_provider: 'external',
      jwks_url: 'https://auth.example.com/.well-known/jwks.json',
      settings: { db_schemas: ['public', 'api'], db_max_rows: 500 },
    });

    const updated = await conn.ok('update_data_api', {
      ...ids,
      settings: { server_cors_allowed_origins: '*' },
    });
    expect(updated.data_api.settings).toMatchObject({ db_max_rows: 500, server_cors_allowed_origins: '*' });
    expect((await conn.ok('get_data_api', ids)).data_api.url).toBe(created.data_api.url);

    expect(await conn.ok('delete_data_api', ids)).toEqual({ deleted: 'neondb' });
    expect(await conn.fails('get_data_api', ids)).toMatch(/HTTP 404/);
  });

  it('refuses a JWKS URL that is not a URL and unknown settings before sending, listing the accepted ones', async () => {
    const ids = { ...setup(), database: 'neondb' };
    conn = await connect({ toolsets: ['data_api'] });
    expect(await conn.fails('create_data_api', { ...ids, jwks_url: 'jwks.json' })).toMatch(/jwks_url/);
    const unknown = await conn.fails('update_data_api', { ...ids, settings: { db_max_rowz: 5 } });
    expect(unknown).toMatch(/Invalid settings: settings: Unrecognized key: "db_max_rowz"/);
    expect(unknown).toMatch(/Accepted fields: db_aggregates_enabled\?, .*db_max_rows\?/);
    expect(await conn.fails('update_data_api', { ...ids, settings: { db_max_rows: 'all' } })).toMatch(
      /settings\.db_max_rows/,
    );
    expect(api.requests).toHaveLength(0);
  });

  it('sends no auth_provider without jwks_url, leaving Neon’s default (Neon Auth)', async () => {
    const ids = { ...setup(), database: 'neondb' };
    conn = await connect({ toolsets: ['data_api'] });
    await conn.ok('create_data_api', { ...ids, add_default_grants: true });
    expect(api.requests.find((r) => r.method === 'POST')?.body).toEqual({ add_default_grants: true });
  });

  it('names the database that does not exist', async () => {
    const ids = { ...setup(), database: 'nope' };
    conn = await connect({ toolsets: ['data_api'] });
    expect(await conn.fails('create_data_api', ids)).toMatch(/HTTP 404: database nope not found/);
  });
});

describe('functions', () => {
  /** Routes the multipart deployment (which the JSON request check cannot read) to the fake directly. */
  const connectFunctions = (options: Parameters<typeof connect>[0] = {}) =>
    connect({
      ...options,
      toolsets: ['functions'],
      clientOptions: {
        fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
          const request = new Request(input, init);
          if (request.method === 'POST' && new URL(request.url).pathname.endsWith('/deployments')) {
            return handleDeployment(api.fake, request);
          }
          return fetch(request);
        },
      },
    });

  it('deploys source files as a ZIP with env vars, waits for the build and shows the function', async () => {
    const ids = setup();
    conn = await connectFunctions();
    const files = {
      'index.mjs': 'export default { fetch() { return new Response("hi ✓") } }',
      'lib/util.js': '',
    };
    const out = await conn.ok('deploy_function', {
      ...ids,
      slug: 'hello',
      files,
      env: { API_KEY: 's3cret' },
    });
    expect(out.deployment).toMatchObject({ id: 1, status: 'completed', environment: ['API_KEY'] });
    expect(out.function).toMatchObject({ slug: 'hello', active_deployment: { id: 1, status: 'completed' } });
    expect(JSON.stringify(out)).not.toContain('s3cret');

    const form = features(api.fake).deploymentForms[0];
    expect(form.fields).toEqual({ environment: '{"API_KEY":"s3cret"}' });
    expect(readZip(form.zip!)).toEqual(files);
    // The build was polled through get: building once, then completed.
    expect(api.count('GET', /\/functions\/hello$/)).toBe(2);

    const listed = await conn.ok('list_functions', ids);
    expect(listed.functions).toEqual([expect.objectContaining({ slug: 'hello', name: 'hello' })]);
  });

  it('redeploys only env vars, keeping the code', async () => {
    const ids = setup();
    conn = await connectFunctions();
    await conn.ok('deploy_function', { ...ids, slug: 'hello', files: { 'index.mjs': 'x' } });
    const out = await conn.ok('deploy_function', { ...ids, slug: 'hello', env: { MODE: 'prod' } });
    expect(out.deployment).toMatchObject({ id: 2, status: 'completed', environment: ['MODE'] });
    expect(features(api.fake).deploymentForms[1]).toMatchObject({
      fields: { environment: '{"MODE":"prod"}' },
    });
    expect(features(api.fake).deploymentForms[1].zip).toBeUndefined();
  });

  it('deploys a ready ZIP given as base64', async () => {
    const ids = setup();
    conn = await connectFunctions();
    const zip = Buffer.from(zipFiles({ 'main.js': 'ok' })).toString('base64');
    const out = await conn.ok('deploy_function', {
      ...ids,
      slug: 'zipped',
      zip_base64: zip,
    });
    expect(out.deployment).toMatchObject({ status: 'completed', runtime: 'nodejs24' });
    expect(features(api.fake).deploymentForms[0].fields).toEqual({});
    expect(readZip(features(api.fake).deploymentForms[0].zip!)).toEqual({ 'main.js': 'ok' });
  });

  it('fails when the build fails, with Neon’s error', async () => {
    const ids = setup();
    conn = await connectFunctions();
    await conn.ok('deploy_function', { ...ids, slug: 'hello', files: { 'index.mjs': 'x' } });
    features(api.fake).functions.get(`${ids.branch_id}/hello`)!.failBuild = 'SyntaxError: Unexpected token';
    const err = await conn.fails('deploy_function', { ...ids, slug: 'hello', files: { 'index.mjs': 'x(' } });
    expect(err).toMatch(/Deployment 2 of function hello failed to build: SyntaxError: Unexpected token/);
    expect(err).toMatch(/previous deployment .* stays active/);
  });

  it('stops waiting at the operation timeout and says the build goes on', async () => {
    const ids = setup();
    conn = await connectFunctions({ operationTimeoutMs: 300 });
    await conn.ok('deploy_function', { ...ids, slug: 'hello', files: { 'index.mjs': 'x' } });
    features(api.fake).functions.get(`${ids.branch_id}/hello`)!.buildPolls = 1_000;
    const out = await conn.ok('deploy_function', { ...ids, slug: 'hello', env: { A: 'b' } });
    expect(out.deployment).toMatchObject({ id: 2, status: 'building' });
    expect(out.note).toMatch(/Still building; check later with get_function/);
  });

  it('stops polling when the call is cancelled', async () => {
    const ids = setup();
    conn = await connectFunctions();
    await conn.ok('deploy_function', { ...ids, slug: 'hello', files: { 'index.mjs': 'x' } });
    features(api.fake).functions.get(`${ids.branch_id}/hello`)!.buildPolls = 1_000;
    const controller = new AbortController();
    const call = conn.call(
      'deploy_function',
      { ...ids, slug: 'hello', env: { A: 'b' } },
      { signal: controller.signal },
    );
    await new Promise((r) => setTimeout(r, 400));
    controller.abort();
    await expect(call).rejects.toThrow();
    const polls = api.count('GET', /\/functions\/hello$/);
    await new Promise((r) => setTimeout(r, 800));
    expect(api.count('GET', /\/functions\/hello$/)).toBe(polls);
  });

  it('refuses bad deployments before sending: nothing to deploy, both code forms, unsafe paths, not a ZIP', async () => {
    const ids = setup();
    conn = await connectFunctions();
    const bad: [Record<string, unknown>, RegExp][] = [
      [{}, /Nothing to deploy/],
      [{ files: { 'a.js': '' }, zip_base64: 'UEsDBA==' }, /files or zip_base64, not both/],
      [{ files: { '../etc/passwd': '' } }, /must be a relative path/],
      [{ files: { '/abs.js': '' } }, /must be a relative path/],
      [{ zip_base64: Buffer.from('not a zip at all, really not').toString('base64') }, /not a ZIP archive/],
      [{ zip_base64: '@@@' }, /not valid base64/],
      [{ files: { 'a.js': '' }, slug: 'Bad-Slug' }, /slug: must be 1-20 lowercase letters or digits/],
      [{ files: { 'a.js': 1 } }, /files: values must be strings/],
      [{ env: { PORT: 8080 } }, /env: values must be strings/],
    ];
    for (const [args, message] of bad) {
      expect(await conn.fails('deploy_function', { ...ids, slug: 'hello', ...args })).toMatch(message);
    }
    expect(features(api.fake).deploymentForms).toEqual([]);
    expect(api.requests).toHaveLength(0);
  });

  it('passes Neon’s refusal of a first deployment without code', async () => {
    const ids = setup();
    conn = await connectFunctions();
    expect(await conn.fails('deploy_function', { ...ids, slug: 'fresh', env: { A: 'b' } })).toMatch(
      /HTTP 400: the first deployment of a function must include zip/,
    );
  });

  it('gets, renames (and resets the name of) and deletes a function', async () => {
    const ids = setup();
    conn = await connectFunctions();
    await conn.ok('deploy_function', { ...ids, slug: 'hello', files: { 'index.mjs': 'x' } });
    const got = await conn.ok('get_function', { ...ids, slug: 'hello' });
    expect(got.function).toMatchObject({ slug: 'hello', current_deployment: { id: 1 } });

    expect(
      (await conn.ok('rename_function', { ...ids, slug: 'hello', name: '  Greeter ' })).function.name,
    ).toBe('Greeter');
    expect(api.requests.find((r) => r.method === 'PATCH')?.body).toEqual({ name: '  Greeter ' });
    expect((await conn.ok('rename_function', { ...ids, slug: 'hello', name: null })).function.name).toBe(
      'hello',
    );
    expect(await conn.fails('rename_function', { ...ids, slug: 'hello', name: '   ' })).toMatch(
      /must not be blank/,
    );

    expect(await conn.ok('delete_function', { ...ids, slug: 'hello' })).toEqual({ deleted: 'hello' });
    expect((await conn.ok('list_functions', ids)).functions).toEqual([]);
    expect(await conn.fails('get_function', { ...ids, slug: 'hello' })).toMatch(/HTTP 404/);
  });

  it('pages through functions', async () => {
    const ids = setup();
    const s = features(api.fake);
    for (let i = 0; i < 101; i++) {
      s.functions.set(`${ids.branch_id}/f${i}`, {
        id: `fn-${i}`,
        slug: `f${i}`,
        name: `f${i}`,
        invocation_url: 'https://x.example.test',
        created_at: new Date().toISOString(),
        branch_id: ids.branch_id,
        deployments: [],
        buildPolls: 0,
      });
    }
    conn = await connectFunctions();
    const first = await conn.ok('list_functions', ids);
    expect(first.functions).toHaveLength(100);
    const second = await conn.ok('list_functions', { ...ids, cursor: first.next_cursor });
    expect(second.functions.map((f: any) => f.slug)).toEqual(['f100']);
    expect(second.next_cursor).toBeUndefined();
  });

  it('shows the AI gateway URL, or why it is unavailable', async () => {
    const ids = setup();
    conn = await connectFunctions();
    expect(await conn.ok('get_ai_gateway', ids)).toEqual({
      ai_gateway: {
        enabled: false,
        reason: 'ai_gateway_unavailable',
        message: 'AI gateway is not served in this region',
      },
    });
    features(api.fake).gatewayBranches.add(ids.branch_id);
    expect((await conn.ok('get_ai_gateway', ids)).ai_gateway).toEqual({
      enabled: true,
      base_url: `https://${ids.branch_id}.ai.example.test/v1`,
    });
    api.use(http.get(`${BASE}/projects/:p/branches/:b/ai_gateway`, () => neonError(403, 'not allowed')));
    expect(await conn.fails('get_ai_gateway', ids)).toMatch(/HTTP 403: not allowed/);
  });
});

/** The files of a ZIP archive, by reading its central directory (independent of the writer). */
function readZip(zip: Uint8Array): Record<string, string> {
  const buf = Buffer.from(zip);
  const end = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = buf.readUInt16LE(end + 10);
  let at = buf.readUInt32LE(end + 16);
  const out: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    expect(buf.readUInt32LE(at)).toBe(0x02014b50);
    const method = buf.readUInt16LE(at + 10);
    const size = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.subarray(at + 46, at + 46 + nameLen).toString('utf8');
    const dataAt = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    const raw = buf.subarray(dataAt, dataAt + size);
    out[name] = (method === 8 ? inflateRawSync(raw) : raw).toString('utf8');
    at += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
