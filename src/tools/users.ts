/** The current user, their organizations, the credentials in use, and the regions Neon offers. */
import * as z from 'zod';
import { pick } from '../neon/util.js';
import { orgId } from './fields.js';
import { defineTool, item, items, output, READ, resource } from './framework.js';

export const getCurrentUser = defineTool({
  name: 'get_current_user',
  title: 'Get current user',
  description: 'Who this server acts as: user, plan, limits.',
  toolset: 'users',
  accountLevel: true,
  operations: ['getAuthDetails', 'getCurrentUserInfo'],
  input: {},
  output: output({
    auth: item({ auth_method: z.string() }),
    user: item({ id: z.string(), email: z.string() }).optional(),
  }),
  hints: READ,
  async handler(_args, { client, signal }) {
    const auth = await client.get('/auth', { signal });
    // An organization key belongs to no user: /users/me has nothing to say about it.
    if (auth.auth_method === 'api_key_org') return { auth };
    const me = await client.get('/users/me', { signal });
    const user = {
      ...pick(me, [
        'id',
        'email',
        'name',
        'last_name',
        'plan',
        'projects_limit',
        'branches_limit',
        'max_autoscaling_limit',
        'compute_seconds_limit',
        'active_seconds_limit',
      ]),
      ...(me.billing_account
        ? { billing: pick(me.billing_account, ['state', 'subscription_type', 'quota_reset_at_last']) }
        : {}),
    };
    return { auth, user };
  },
});

export const listOrganizations = defineTool({
  name: 'list_organizations',
  title: 'List organizations',
  description: 'List your organizations (ID, name, plan).',
  toolset: 'users',
  accountLevel: true,
  operations: ['getCurrentUserOrganizations'],
  input: {},
  output: output({ organizations: z.array(resource) }),
  hints: READ,
  async handler(_args, { client, signal }) {
    const res = await client.get('/users/me/organizations', { signal });
    return {
      organizations: res.organizations.map((o) => pick(o, ['id', 'name', 'handle', 'plan', 'managed_by'])),
    };
  },
});

export const listRegions = defineTool({
  name: 'list_regions',
  title: 'List regions',
  description: 'List the regions where projects can be created.',
  toolset: 'users',
  accountLevel: true,
  operations: ['getActiveRegions'],
  input: { org_id: orgId.optional().describe("Only this org's") },
  output: output({ regions: items({ region_id: z.string(), name: z.string() }) }),
  hints: READ,
  async handler({ org_id }, { client, signal }) {
    const res = await client.get('/regions', { query: { org_id }, signal });
    return { regions: res.regions.map((r) => pick(r, ['region_id', 'name', 'default'])) };
  },
});

export const userTools = [getCurrentUser, listOrganizations, listRegions];
