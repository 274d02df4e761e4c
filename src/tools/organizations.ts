/** Organizations: details, members, invitations, organization API keys, moving projects between them. */
import * as z from 'zod';
import { NeonApiError, NeonError } from '../client/errors.js';
import type { Schemas } from '../client/neon-client.js';
import { keySummary } from '../neon/resources.js';
import { pick } from '../neon/util.js';
import { cursor, KEY_WARNING, keyId, keyName, neonId, neonIdList, orgId, projectId } from './fields.js';
import { CREATE, DESTROY, defineTool, item, items, output, READ, resource, UPDATE } from './framework.js';

const apiKey = item({ id: z.number(), name: z.string() });
const member = item({ id: z.string(), role: z.string() });

const memberRole = z.enum(['admin', 'member', 'editor', 'viewer', 'collaborator']);
// Refinements rather than z.uuid()/z.email(), whose JSON Schema patterns cost tokens in every listing.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const memberId = z
  .string()
  .refine((v) => UUID.test(v), { message: 'must be a member ID (a UUID) from list_org_members' })
  .describe('From list_org_members');
const org = orgId;
const email = z.string().refine((v) => v.length <= 256 && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v), {
  message: 'must be an email address',
});

export const getOrganization = defineTool({
  name: 'get_organization',
  title: 'Get organization',
  description: 'Get an organization: name, plan, settings.',
  toolset: 'organizations',
  accountLevel: true,
  operations: ['getOrganization'],
  input: { org_id: org },
  output: output({ organization: resource }),
  hints: READ,
  async handler({ org_id }, { client, signal }) {
    const organization = await client.get('/organizations/{org_id}', {
      path: { org_id },
      signal,
    });
    return { organization };
  },
});

export const listOrgApiKeys = defineTool({
  name: 'list_org_api_keys',
  title: 'List org keys',
  description: "List an organization's API keys (never their tokens).",
  toolset: 'organizations',
  accountLevel: true,
  operations: ['listOrgApiKeys'],
  input: { org_id: org },
  output: output({ api_keys: z.array(apiKey) }),
  hints: READ,
  async handler({ org_id }, { client, signal }) {
    const keys = await client.get('/organizations/{org_id}/api_keys', {
      path: { org_id },
      signal,
    });
    return { api_keys: keys.map(keySummary) };
  },
});

export const createOrgApiKey = defineTool({
  name: 'create_org_api_key',
  title: 'Create org key',
  description: 'Create an org API key, optionally for one project; secret shown once.',
  toolset: 'organizations',
  accountLevel: true,
  operations: ['createOrgApiKey'],
  input: {
    org_id: org,
    name: keyName,
    project_id: projectId.optional().describe('Only this project'),
  },
  // Also returns warning, which labels the key as a secret.
  output: output({ api_key: apiKey, key: z.string() }),
  hints: CREATE,
  async handler({ org_id, name: key_name, project_id }, { client, signal }) {
    const body: Schemas['OrgApiKeyCreateRequest'] = project_id ? { key_name, project_id } : { key_name };
    const res = await client.post('/organizations/{org_id}/api_keys', {
      path: { org_id },
      body,
      signal,
    });
    return {
      api_key: pick(res, ['id', 'name', 'created_at', 'project_id']),
      key: res.key,
      warning: KEY_WARNING,
    };
  },
});

export const revokeOrgApiKey = defineTool({
  name: 'revoke_org_api_key',
  title: 'Revoke org key',
  description: 'Revoke an organization API key for good.',
  toolset: 'organizations',
  accountLevel: true,
  operations: ['revokeOrgApiKey'],
  input: { org_id: org, key_id: keyId },
  output: output({ api_key: apiKey }),
  hints: DESTROY,
  async handler({ org_id, key_id }, { client, signal }) {
    const res = await client.delete('/organizations/{org_id}/api_keys/{key_id}', {
      path: { org_id, key_id },
      signal,
    });
    return { api_key: pick(res, ['id', 'name', 'revoked', 'project_id']) };
  },
});

export const listOrgMembers = defineTool({
  name: 'list_org_members',
  title: 'List org members',
  description: "List an organization's members, or get one.",
  toolset: 'organizations',
  accountLevel: true,
  operations: ['getOrganizationMembers', 'getOrganizationMember'],
  input: {
    org_id: org,
    member_id: memberId.optional().describe('Get only this one'),
    cursor: cursor.describe('Cursor'),
  },
  // `member` instead of `members` when member_id is given; next_cursor when there is another page.
  output: output({
    members: items({ member_id: z.string(), email: z.string() }).optional(),
  }),
  hints: READ,
  async handler({ org_id, member_id, ...args }, { client, signal }) {
    if (member_id) {
      const member = await client.get('/organizations/{org_id}/members/{member_id}', {
        path: { org_id, member_id },
        signal,
      });
      return { member };
    }
    const pageSize = 100;
    const res = await client.get('/organizations/{org_id}/members', {
      path: { org_id },
      query: {
        limit: pageSize,
        cursor: args.cursor,
      },
      signal,
    });
    const members = res.members.map(({ member, user }) => ({
      member_id: member.id,
      email: user.email,
      role: member.role,
      joined_at: member.joined_at,
      has_mfa: user.has_mfa,
      ...(user.deactivated_at ? { deactivated_at: user.deactivated_at } : {}),
    }));
    const next = members.length === pageSize ? res.pagination?.next : undefined;
    return { members, ...(next ? { next_cursor: next } : {}) };
  },
});

export const updateOrgMember = defineTool({
  name: 'update_org_member',
  title: 'Update org member',
  description: "Change an organization member's role (admins only).",
  toolset: 'organizations',
  accountLevel: true,
  operations: ['updateOrganizationMember'],
  input: { org_id: org, member_id: memberId, role: memberRole.describe('Role') },
  output: output({ member }),
  hints: UPDATE,
  async handler({ org_id, member_id, role }, { client, signal }) {
    const member = await client.patch('/organizations/{org_id}/members/{member_id}', {
      path: { org_id, member_id },
      body: { role } satisfies Schemas['OrganizationMemberUpdateRequest'],
      signal,
    });
    return { member };
  },
});

export const removeOrgMember = defineTool({
  name: 'remove_org_member',
  title: 'Remove org member',
  description: 'Remove a member from an organization (admins only).',
  toolset: 'organizations',
  accountLevel: true,
  operations: ['removeOrganizationMember'],
  input: { org_id: org, member_id: memberId },
  // Also returns member_id.
  output: output({ removed: z.boolean() }),
  hints: DESTROY,
  async handler({ org_id, member_id }, { client, signal }) {
    await client.delete('/organizations/{org_id}/members/{member_id}', {
      path: { org_id, member_id },
      signal,
    });
    return { removed: true, member_id };
  },
});

const INVITATION = ['id', 'email', 'role', 'invited_at', 'invited_by'] as const;

export const listOrgInvitations = defineTool({
  name: 'list_org_invitations',
  title: 'List org invitations',
  description: 'List invitations to an organization.',
  toolset: 'organizations',
  accountLevel: true,
  operations: ['getOrganizationInvitations'],
  input: { org_id: org },
  output: output({ invitations: items({ id: z.string(), email: z.string() }) }),
  hints: READ,
  async handler({ org_id }, { client, signal }) {
    const res = await client.get('/organizations/{org_id}/invitations', { path: { org_id }, signal });
    return { invitations: res.invitations.map((i) => pick(i, INVITATION)) };
  },
});

export const inviteOrgMembers = defineTool({
  name: 'invite_org_members',
  title: 'Invite org members',
  description: 'Invite people by email to an organization.',
  toolset: 'organizations',
  accountLevel: true,
  operations: ['createOrganizationInvitations'],
  input: {
    org_id: org,
    invitations: z
      .array(z.object({ email, role: memberRole }))
      .refine((a) => a.length >= 1 && a.length <= 100, { message: 'must hold 1 to 100 invitations' })
      .describe('Invitations'),
  },
  output: output({ invitations: items({ id: z.string(), email: z.string() }) }),
  hints: CREATE,
  async handler({ org_id, invitations }, { client, signal }) {
    const res = await client.post('/organizations/{org_id}/invitations', {
      path: { org_id },
      body: { invitations } satisfies Schemas['OrganizationInvitesCreateRequest'],
      signal,
    });
    return { invitations: res.invitations.map((i) => pick(i, INVITATION)) };
  },
});

export const transferProjectsToOrg = defineTool({
  name: 'transfer_projects_to_org',
  title: 'Transfer projects',
  description: 'Move projects to another of your organizations.',
  toolset: 'access',
  accountLevel: true,
  operations: ['transferProjectsFromOrgToOrg'],
  input: {
    org_id: orgId.describe('Source org'),
    destination_org_id: neonId('destination org').describe('Target org'),
    project_ids: neonIdList('project', 1, 400).describe('Project IDs'),
  },
  // Also returns destination_org_id.
  output: output({ transferred: z.array(z.string()) }),
  // Not data loss, but members of the source lose access and billing moves: worth a confirmation.
  hints: DESTROY,
  async handler({ org_id, destination_org_id, project_ids }, { client, signal }) {
    try {
      await client.post('/organizations/{source_org_id}/projects/transfer', {
        path: { source_org_id: org_id },
        body: { destination_org_id, project_ids } satisfies Schemas['TransferProjectsToOrganizationRequest'],
        signal,
      });
    } catch (error) {
      if (error instanceof NeonApiError && (error.status === 406 || error.status === 422)) {
        throw new NeonError(
          error.message +
            (error.status === 406
              ? " The destination organization's plan does not allow these projects (project count, region or " +
                'plan type). Upgrade it or move fewer projects.'
              : ' Some projects have integrations (e.g. GitHub, Vercel) that must be removed before a transfer.'),
        );
      }
      throw error;
    }
    return { transferred: project_ids, destination_org_id };
  },
});

export const organizationTools = [
  getOrganization,
  listOrgApiKeys,
  createOrgApiKey,
  revokeOrgApiKey,
  listOrgMembers,
  updateOrgMember,
  removeOrgMember,
  listOrgInvitations,
  inviteOrgMembers,
  transferProjectsToOrg,
];
