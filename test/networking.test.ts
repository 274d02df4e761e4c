import { afterEach, describe, expect, it } from 'vitest';
import { connect, useMockApi } from './helpers.js';
import { accountStore, seedOrg } from './mock/stores.js';

const api = useMockApi();
let conn: Awaited<ReturnType<typeof connect>>;
afterEach(() => conn?.close());

const open = () => connect({ toolsets: ['networking'] });
const VPCE = 'vpce-0123456789abcdef0';

describe('organization VPC endpoints', () => {
  it('assigns, lists (all regions, one region, one endpoint) and deletes', async () => {
    seedOrg(api.fake, 'org-a');
    conn = await open();
    const assigned = await conn.ok('assign_org_vpc_endpoint', {
      org_id: 'org-a',
      region_id: 'aws-us-east-2',
      vpc_endpoint_id: VPCE,
      label: 'prod vpc',
    });
    expect(assigned.vpc_endpoint).toMatchObject({
      vpc_endpoint_id: VPCE,
      label: 'prod vpc',
      state: 'new',
      num_restricted_projects: 0,
      region_id: 'aws-us-east-2',
    });
    await conn.ok('assign_org_vpc_endpoint', {
      org_id: 'org-a',
      region_id: 'aws-eu-central-1',
      vpc_endpoint_id: 'vpce-eu',
      label: 'eu',
    });
    // Relabel in place.
    await conn.ok('assign_org_vpc_endpoint', {
      org_id: 'org-a',
      region_id: 'aws-us-east-2',
      vpc_endpoint_id: VPCE,
      label: 'production',
    });

    const all = await conn.ok('list_org_vpc_endpoints', { org_id: 'org-a' });
    expect(all.vpc_endpoints).toEqual([
      { vpc_endpoint_id: VPCE, label: 'production', region_id: 'aws-us-east-2' },
      { vpc_endpoint_id: 'vpce-eu', label: 'eu', region_id: 'aws-eu-central-1' },
    ]);
    const eu = await conn.ok('list_org_vpc_endpoints', { org_id: 'org-a', region_id: 'aws-eu-central-1' });
    expect(eu.vpc_endpoints).toEqual([
      { vpc_endpoint_id: 'vpce-eu', label: 'eu', region_id: 'aws-eu-central-1' },
    ]);
    const one = await conn.ok('list_org_vpc_endpoints', {
      org_id: 'org-a',
      region_id: 'aws-us-east-2',
      vpc_endpoint_id: VPCE,
    });
    expect(one.vpc_endpoint).toMatchObject({ label: 'production', state: 'new' });

    expect(
      await conn.ok('delete_org_vpc_endpoint', {
        org_id: 'org-a',
        region_id: 'aws-eu-central-1',
        vpc_endpoint_id: 'vpce-eu',
      }),
    ).toEqual({ deleted: true, vpc_endpoint_id: 'vpce-eu' });
    const after = await conn.ok('list_org_vpc_endpoints', { org_id: 'org-a' });
    expect(after.vpc_endpoints.map((e: any) => e.vpc_endpoint_id)).toEqual([VPCE]);
  });

  it('needs region_id with vpc_endpoint_id; refuses odd IDs; passes on 404 and 422', async () => {
    seedOrg(api.fake, 'org-a');
    conn = await open();
    expect(await conn.fails('list_org_vpc_endpoints', { org_id: 'org-a', vpc_endpoint_id: VPCE })).toMatch(
      /region_id is required with vpc_endpoint_id/,
    );
    expect(
      await conn.fails('delete_org_vpc_endpoint', {
        org_id: 'org-a',
        region_id: 'aws-us-east-2',
        vpc_endpoint_id: '../x',
      }),
    ).toMatch(/vpc_endpoint_id: must be a VPC endpoint ID/);
    await api.settle();
    expect(api.requests).toHaveLength(0);

    const missing = await conn.fails('delete_org_vpc_endpoint', {
      org_id: 'org-a',
      region_id: 'aws-us-east-2',
      vpc_endpoint_id: VPCE,
    });
    expect(missing).toMatch(/HTTP 404/);
    expect(missing).toMatch(new RegExp(`vpc endpoint "${VPCE}" in region "aws-us-east-2" in org "org-a"`));
    const azure = await conn.fails('assign_org_vpc_endpoint', {
      org_id: 'org-a',
      region_id: 'azure-eastus2',
      vpc_endpoint_id: VPCE,
      label: 'x',
    });
    expect(azure).toMatch(/HTTP 422: Azure regions are not supported/);
  });
});

describe('project VPC restrictions', () => {
  it('restricts a project to an endpoint of its organization, lists and removes it', async () => {
    const org = seedOrg(api.fake, 'org-a');
    org.vpcEndpoints.set('aws-us-east-2', new Map([[VPCE, { label: 'prod', state: 'accepted' }]]));
    const { project } = api.fake.seedProject('locked', { org_id: 'org-a' });
    conn = await open();
    expect(
      (await conn.ok('list_project_vpc_restrictions', { project_id: project.id })).vpc_endpoints,
    ).toEqual([]);
    const set = await conn.ok('set_project_vpc_restriction', {
      project_id: project.id,
      vpc_endpoint_id: VPCE,
      label: 'prod only',
    });
    expect(set.vpc_endpoints).toEqual([{ vpc_endpoint_id: VPCE, label: 'prod only' }]);
    // The organization's view counts the restricted project.
    const detail = await conn.ok('list_org_vpc_endpoints', {
      org_id: 'org-a',
      region_id: 'aws-us-east-2',
      vpc_endpoint_id: VPCE,
    });
    expect(detail.vpc_endpoint).toMatchObject({
      num_restricted_projects: 1,
      example_restricted_projects: [project.id],
    });

    expect(
      await conn.ok('remove_project_vpc_restriction', { project_id: project.id, vpc_endpoint_id: VPCE }),
    ).toEqual({ removed: true, vpc_endpoint_id: VPCE });
    expect(
      (await conn.ok('list_project_vpc_restrictions', { project_id: project.id })).vpc_endpoints,
    ).toEqual([]);
  });

  it('passes on a 422 for an endpoint the organization does not have, and a 404 for a missing one', async () => {
    seedOrg(api.fake, 'org-a');
    const { project } = api.fake.seedProject('p', { org_id: 'org-a' });
    conn = await open();
    const err = await conn.fails('set_project_vpc_restriction', {
      project_id: project.id,
      vpc_endpoint_id: VPCE,
      label: 'x',
    });
    expect(err).toMatch(/HTTP 422: VPC endpoint .* is not assigned to the project's organization/);
    expect(accountStore(api.fake).projectVpc.get(project.id)).toBeUndefined();
    const gone = await conn.fails('remove_project_vpc_restriction', {
      project_id: project.id,
      vpc_endpoint_id: VPCE,
    });
    expect(gone).toMatch(/HTTP 404/);
  });
});

describe('JWKS', () => {
  it('adds a JWKS URL (waiting for its operation), lists and deletes it', async () => {
    const { project, branch } = api.fake.seedProject('jwt');
    conn = await connect({ toolsets: ['networking'] });
    const progress: string[] = [];
    const res = await conn.mcp.callTool(
      {
        name: 'add_jwks',
        arguments: {
          project_id: project.id,
          jwks_url: 'https://example.clerk.accounts.dev/.well-known/jwks.json',
          provider_name: 'Clerk',
          branch_id: branch.id,
          jwt_audience: 'my-app',
        },
      },
      { onprogress: (p) => progress.push(String(p.message)) },
    );
    expect(res.isError).toBeFalsy();
    const added = (res.structuredContent as any).jwks;
    expect(added).toMatchObject({ provider_name: 'Clerk', branch_id: branch.id, jwt_audience: 'my-app' });
    const ops = [...api.fake.operations.values()];
    expect(ops).toHaveLength(1);
    expect(ops[0].status).toBe('finished');
    expect(progress.at(-1)).toMatch(/1\/1 Neon operations finished/);
    await api.settle();
    expect(api.requests.find((r) => r.method === 'POST')?.body).toEqual({
      jwks_url: 'https://example.clerk.accounts.dev/.well-known/jwks.json',
      provider_name: 'Clerk',
      branch_id: branch.id,
      jwt_audience: 'my-app',
    });

    const listed = await conn.ok('list_jwks', { project_id: project.id });
    expect(listed.jwks).toEqual([expect.objectContaining({ id: added.id, provider_name: 'Clerk' })]);
    expect(listed.jwks[0]).not.toHaveProperty('role_names');

    const deleted = await conn.ok('delete_jwks', { project_id: project.id, jwks_id: added.id });
    expect(deleted.jwks).toMatchObject({ id: added.id });
    expect((await conn.ok('list_jwks', { project_id: project.id })).jwks).toEqual([]);
  });

  it('refuses a non-HTTPS URL locally; passes on Neon 422 and 404', async () => {
    const { project } = api.fake.seedProject('jwt');
    conn = await connect({ toolsets: ['networking'] });
    expect(
      await conn.fails('add_jwks', {
        project_id: project.id,
        jwks_url: 'http://insecure/jwks',
        provider_name: 'x',
      }),
    ).toMatch(/jwks_url: must be an https:\/\/ URL/);
    for (const name of ['a', 'b']) {
      await conn.ok('add_jwks', {
        project_id: project.id,
        jwks_url: `https://${name}.test/jwks`,
        provider_name: name,
      });
    }
    const limit = await conn.fails('add_jwks', {
      project_id: project.id,
      jwks_url: 'https://c.test/jwks',
      provider_name: 'c',
    });
    expect(limit).toMatch(/HTTP 422: a project can have at most 2 JWKS URLs/);
    const missing = await conn.fails('delete_jwks', { project_id: project.id, jwks_id: 'nope' });
    expect(missing).toMatch(/HTTP 404/);
    expect(missing).toMatch(/jwks "nope" in project/);
  });

  it('stays available, without project_id, when the server is scoped to one project', async () => {
    const { project } = api.fake.seedProject('scoped');
    conn = await connect({ projectId: project.id, toolsets: ['networking'] });
    const names = (await conn.mcp.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining(['list_jwks', 'add_jwks', 'delete_jwks', 'list_project_vpc_restrictions']),
    );
    expect(names).not.toContain('list_org_vpc_endpoints');
    await conn.ok('add_jwks', { jwks_url: 'https://a.test/jwks', provider_name: 'a' });
    expect((await conn.ok('list_jwks', {})).jwks).toHaveLength(1);
  });
});
