/** Private networking (VPC endpoints of organizations, VPC restrictions of projects) and JWKS for JWT auth. */
import * as z from 'zod';
import { InvalidArgumentError } from '../client/errors.js';
import type { Schemas } from '../client/neon-client.js';
import { defined, pick } from '../neon/util.js';
import { filterBranchId, orgId, projectId, str } from './fields.js';
import { CREATE, DESTROY, defineTool, item, output, READ, UPDATE } from './framework.js';

const vpcEndpoint = item({ vpc_endpoint_id: z.string(), label: z.string() });

const vpcEndpointId = z
  .string()
  .refine((v) => /^[A-Za-z0-9-]{1,100}$/.test(v), {
    message: 'must be a VPC endpoint ID such as vpce-0123abcd',
  })
  .describe('AWS VPC endpoint ID');
const regionId = str(64).describe('Region ID');
const label = str(256).describe('Label');
const org = orgId;

export const listProjectVpcRestrictions = defineTool({
  name: 'list_project_vpc_restrictions',
  title: 'List VPC restrictions',
  description: 'List the VPC endpoints a project is restricted to.',
  toolset: 'networking',
  operations: ['listProjectVPCEndpoints'],
  input: { project_id: projectId },
  output: output({ vpc_endpoints: z.array(vpcEndpoint) }),
  hints: READ,
  async handler({ project_id }, { client, signal }) {
    const res = await client.get('/projects/{project_id}/vpc_endpoints', {
      path: { project_id },
      signal,
    });
    return { vpc_endpoints: res.endpoints };
  },
});

export const setProjectVpcRestriction = defineTool({
  name: 'set_project_vpc_restriction',
  title: 'Set VPC restriction',
  description: "Restrict a project's connections to an org VPC endpoint.",
  toolset: 'networking',
  operations: ['assignProjectVPCEndpoint', 'listProjectVPCEndpoints'],
  input: { project_id: projectId, vpc_endpoint_id: vpcEndpointId, label },
  output: output({ vpc_endpoints: z.array(vpcEndpoint) }),
  hints: UPDATE,
  async handler({ project_id, vpc_endpoint_id, label }, { client, signal }) {
    await client.post('/projects/{project_id}/vpc_endpoints/{vpc_endpoint_id}', {
      path: { project_id, vpc_endpoint_id },
      body: { label } satisfies Schemas['VPCEndpointAssignment'],
      signal,
    });
    const res = await client.get('/projects/{project_id}/vpc_endpoints', {
      path: { project_id },
      signal,
    });
    return { vpc_endpoints: res.endpoints };
  },
});

export const removeProjectVpcRestriction = defineTool({
  name: 'remove_project_vpc_restriction',
  title: 'Remove VPC restriction',
  description: 'Remove a VPC endpoint restriction from a project.',
  toolset: 'networking',
  operations: ['deleteProjectVPCEndpoint'],
  input: { project_id: projectId, vpc_endpoint_id: vpcEndpointId },
  // Also returns vpc_endpoint_id.
  output: output({ removed: z.boolean() }),
  hints: DESTROY,
  async handler({ project_id, vpc_endpoint_id }, { client, signal }) {
    await client.delete('/projects/{project_id}/vpc_endpoints/{vpc_endpoint_id}', {
      path: { project_id, vpc_endpoint_id },
      signal,
    });
    return { removed: true, vpc_endpoint_id };
  },
});

export const listOrgVpcEndpoints = defineTool({
  name: 'list_org_vpc_endpoints',
  title: 'List VPC endpoints',
  description: "List an organization's VPC endpoints, or get one.",
  toolset: 'networking',
  accountLevel: true,
  operations: [
    'listOrganizationVPCEndpointsAllRegions',
    'listOrganizationVPCEndpoints',
    'getOrganizationVPCEndpointDetails',
  ],
  input: {
    org_id: org,
    region_id: regionId.optional().describe('Required with vpc_endpoint_id'),
    vpc_endpoint_id: vpcEndpointId.optional().describe('Get only this one'),
  },
  // `vpc_endpoint` instead when vpc_endpoint_id is given.
  output: output({ vpc_endpoints: z.array(vpcEndpoint).optional() }),
  hints: READ,
  async handler({ org_id, region_id, vpc_endpoint_id }, { client, signal }) {
    if (vpc_endpoint_id) {
      if (!region_id)
        throw new InvalidArgumentError(
          'region_id is required with vpc_endpoint_id; list_org_vpc_endpoints without them shows each region.',
        );
      const vpc_endpoint = await client.get(
        '/organizations/{org_id}/vpc/region/{region_id}/vpc_endpoints/{vpc_endpoint_id}',
        { path: { org_id, region_id, vpc_endpoint_id }, signal },
      );
      return { vpc_endpoint: { ...vpc_endpoint, region_id } };
    }
    if (region_id) {
      const res = await client.get('/organizations/{org_id}/vpc/region/{region_id}/vpc_endpoints', {
        path: { org_id, region_id },
        signal,
      });
      return { vpc_endpoints: res.endpoints.map((e) => ({ ...e, region_id })) };
    }
    const res = await client.get('/organizations/{org_id}/vpc/vpc_endpoints', { path: { org_id }, signal });
    return { vpc_endpoints: res.endpoints };
  },
});

export const assignOrgVpcEndpoint = defineTool({
  name: 'assign_org_vpc_endpoint',
  title: 'Assign VPC endpoint',
  description: "Assign or relabel an organization's VPC endpoint in a region.",
  toolset: 'networking',
  accountLevel: true,
  operations: ['assignOrganizationVPCEndpoint', 'getOrganizationVPCEndpointDetails'],
  input: { org_id: org, region_id: regionId, vpc_endpoint_id: vpcEndpointId, label },
  output: output({ vpc_endpoint: vpcEndpoint }),
  hints: UPDATE,
  async handler({ org_id, region_id, vpc_endpoint_id, label }, { client, signal }) {
    const route = '/organizations/{org_id}/vpc/region/{region_id}/vpc_endpoints/{vpc_endpoint_id}' as const;
    const path = { org_id, region_id, vpc_endpoint_id };
    await client.post(route, { path, body: { label } satisfies Schemas['VPCEndpointAssignment'], signal });
    const vpc_endpoint = await client.get(route, { path, signal });
    return { vpc_endpoint: { ...vpc_endpoint, region_id } };
  },
});

export const deleteOrgVpcEndpoint = defineTool({
  name: 'delete_org_vpc_endpoint',
  title: 'Delete VPC endpoint',
  description: "Remove an organization's VPC endpoint for good.",
  toolset: 'networking',
  accountLevel: true,
  operations: ['deleteOrganizationVPCEndpoint'],
  input: { org_id: org, region_id: regionId, vpc_endpoint_id: vpcEndpointId },
  // Also returns vpc_endpoint_id.
  output: output({ deleted: z.boolean() }),
  hints: DESTROY,
  async handler({ org_id, region_id, vpc_endpoint_id }, { client, signal }) {
    await client.delete('/organizations/{org_id}/vpc/region/{region_id}/vpc_endpoints/{vpc_endpoint_id}', {
      path: { org_id, region_id, vpc_endpoint_id },
      signal,
    });
    return { deleted: true, vpc_endpoint_id };
  },
});

const jwks = item({ id: z.string(), provider_name: z.string() });
const JWKS_FIELDS = ['id', 'provider_name', 'jwks_url', 'branch_id', 'jwt_audience', 'created_at'] as const;

export const listJwks = defineTool({
  name: 'list_jwks',
  title: 'List JWKS',
  description: "List the project's JWKS URLs for verifying JWTs.",
  toolset: 'networking',
  operations: ['getProjectJWKS'],
  input: { project_id: projectId },
  output: output({ jwks: z.array(jwks) }),
  hints: READ,
  async handler({ project_id }, { client, signal }) {
    const res = await client.get('/projects/{project_id}/jwks', {
      path: { project_id },
      signal,
    });
    return { jwks: res.jwks.map((j) => pick(j, JWKS_FIELDS)) };
  },
});

export const addJwks = defineTool({
  name: 'add_jwks',
  title: 'Add JWKS',
  description: 'Trust JWTs signed by a JWKS URL (e.g. Clerk).',
  toolset: 'networking',
  operations: ['addProjectJWKS'],
  input: {
    project_id: projectId,
    jwks_url: z
      .string()
      .refine((v) => /^https:\/\/\S{3,2040}$/.test(v), { message: 'must be an https:// URL' })
      .describe('JWKS URL'),
    provider_name: str(100).describe('Provider name'),
    branch_id: filterBranchId,
    jwt_audience: str(256).describe('JWT audience').optional(),
  },
  output: output({ jwks }),
  hints: CREATE,
  async handler({ project_id, ...fields }, { client, signal, wait }) {
    const res = await client.post('/projects/{project_id}/jwks', {
      path: { project_id },
      body: defined(fields) as Schemas['AddProjectJWKSRequest'],
      signal,
    });
    await wait(res.operations);
    return { jwks: res.jwks };
  },
});

export const deleteJwks = defineTool({
  name: 'delete_jwks',
  title: 'Delete JWKS',
  description: 'Remove a JWKS URL; its JWTs stop being trusted.',
  toolset: 'networking',
  operations: ['deleteProjectJWKS'],
  input: { project_id: projectId, jwks_id: str(100).describe('From list_jwks') },
  output: output({ jwks }),
  hints: DESTROY,
  async handler({ project_id, jwks_id }, { client, signal }) {
    const jwks = await client.delete('/projects/{project_id}/jwks/{jwks_id}', {
      path: { project_id, jwks_id },
      signal,
    });
    return { jwks: pick(jwks, JWKS_FIELDS) };
  },
});

export const networkingTools = [
  listProjectVpcRestrictions,
  setProjectVpcRestriction,
  removeProjectVpcRestriction,
  listOrgVpcEndpoints,
  assignOrgVpcEndpoint,
  deleteOrgVpcEndpoint,
  listJwks,
  addJwks,
  deleteJwks,
];
