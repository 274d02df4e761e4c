/**
 * Neon Auth for a branch: enabling it, its settings (read together, changed one section at a time),
 * trusted domains, OAuth providers, users, and the provider project's SDK keys and ownership transfer.
 * Secrets that Neon echoes back on reads (SMTP password, OAuth client secrets) are hidden; only the
 * tools that create keys return them, labelled.
 */
import * as z from 'zod';
import type { Body, HttpMethod, NeonClient, RequestOptions, Route, Schemas } from '../client/neon-client.js';
import { checkShape } from '../neon/shape.js';
import { defined } from '../neon/util.js';
import { branchId, int, onBranchId, projectId, str, text } from './fields.js';
import {
  ACT,
  anyObject,
  CREATE,
  DESTROY,
  defineTool,
  item,
  items,
  output,
  READ,
  type ToolDef,
  UPDATE,
} from './framework.js';

const neonAuth = item({ auth_provider: z.string(), branch_id: z.string() });

const base = '/projects/{project_id}/branches/{branch_id}/auth' as const;
const ids = { project_id: projectId, branch_id: onBranchId };
/** What deletes names its branch (the optional-branch rule in fields.ts). */
const namedIds = { project_id: projectId, branch_id: branchId };
type Ids = { project_id: string; branch_id: string };
type UntypedRequest = (method: HttpMethod, route: Route, options: RequestOptions) => Promise<unknown>;

const provider = z.enum(['better_auth', 'stack', 'mock']);
const oauthProvider = z.enum(['google', 'github', 'microsoft', 'vercel']);
const userId = str(256).describe('Neon Auth user ID');
const SECRET_WARNING = 'SECRET: shown only this once. Give it to the user to store securely.';

/** A copy with every non-empty secret Neon echoes on reads replaced by `[hidden]`. */
export function hideSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map(hideSecrets) as T;
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      (k === 'password' || k === 'client_secret' || k === 'secret_server_key') && typeof v === 'string' && v
        ? '[hidden]'
        : hideSecrets(v);
  }
  return out as T;
}

async function integration(client: NeonClient, path: Ids, signal: AbortSignal) {
  return client.get(base, { path, signal });
}

export const enableNeonAuth = defineTool({
  name: 'enable_neon_auth',
  title: 'Enable Neon Auth',
  description: 'Enable Neon Auth on a branch; returns its keys once.',
  toolset: 'auth',
  beta: true,
  operations: ['createNeonAuth'],
  input: {
    ...ids,
    auth_provider: provider.default('better_auth').describe('auth provider'),
    database: text(63).optional().describe('database'),
  },
  // Also returns a `warning` about the secrets.
  output: output({
    neon_auth: neonAuth,
    secrets: item({ pub_client_key: z.string(), secret_server_key: z.string() }),
  }),
  hints: CREATE,
  async handler({ project_id, branch_id, auth_provider, database }, { client, signal }) {
    const res = await client.post(base, {
      path: { project_id, branch_id },
      body: defined({
        auth_provider,
        database_name: database,
      }) as Schemas['EnableNeonAuthIntegrationRequest'],
      signal,
    });
    const { pub_client_key, secret_server_key, ...rest } = res;
    return { neon_auth: rest, secrets: { pub_client_key, secret_server_key }, warning: SECRET_WARNING };
  },
});

/** What get_neon_auth can read, each from its own endpoint. */
const SECTIONS = {
  integration: '/projects/{project_id}/branches/{branch_id}/auth',
  plugins: '/projects/{project_id}/branches/{branch_id}/auth/plugins',
  domains: '/projects/{project_id}/branches/{branch_id}/auth/domains',
  webhooks: '/projects/{project_id}/branches/{branch_id}/auth/webhooks',
  oauth_providers: '/projects/{project_id}/branches/{branch_id}/auth/oauth_providers',
  email_provider: '/projects/{project_id}/branches/{branch_id}/auth/email_provider',
  email_and_password: '/projects/{project_id}/branches/{branch_id}/auth/email_and_password',
  allow_localhost: '/projects/{project_id}/branches/{branch_id}/auth/allow_localhost',
  phone_number: '/projects/{project_id}/branches/{branch_id}/auth/plugins/phone-number',
} as const satisfies Record<string, Route>;
type Section = keyof typeof SECTIONS;
/**
 * Read by default: `plugins` already summarizes every plugin (email, OAuth, phone, …); `all` adds each
 * section's own endpoint, which a summary may leave out.
 */
const DEFAULT_SECTIONS: Section[] = ['integration', 'plugins', 'domains', 'webhooks'];

export const getNeonAuth = defineTool({
  name: 'get_neon_auth',
  title: 'Get Neon Auth',
  description: "Get a branch's Neon Auth config.",
  toolset: 'auth',
  beta: true,
  operations: [
    'getNeonAuth',
    'getNeonAuthPluginConfigs',
    'listBranchNeonAuthTrustedDomains',
    'getNeonAuthWebhookConfig',
    'listBranchNeonAuthOauthProviders',
    'getNeonAuthEmailProvider',
    'getNeonAuthEmailAndPasswordConfig',
    'getNeonAuthAllowLocalhost',
    'getNeonAuthPhoneNumberPlugin',
  ],
  input: {
    ...ids,
    all: z.boolean().optional().describe('Each section in full'),
  },
  output: output({ neon_auth: neonAuth }),
  hints: READ,
  async handler({ project_id, branch_id, all }, { client, signal }) {
    const wanted = all ? (Object.keys(SECTIONS) as Section[]) : DEFAULT_SECTIONS;
    const path = { project_id, branch_id };
    const values = await Promise.all(wanted.map((s) => client.get(SECTIONS[s], { path, signal })));
    const neon_auth: Record<string, unknown> = {};
    wanted.forEach((s, i) => {
      const v = values[i] as Record<string, unknown>;
      // Unwrap single-key answers ({domains: […]}, {providers: […]}, {allow_localhost: true}).
      neon_auth[s] =
        s === 'domains'
          ? v.domains
          : s === 'oauth_providers'
            ? v.providers
            : s === 'allow_localhost'
              ? v.allow_localhost
              : v;
    });
    return { neon_auth: hideSecrets(neon_auth) };
  },
});

export const disableNeonAuth = defineTool({
  name: 'disable_neon_auth',
  title: 'Disable Neon Auth',
  description: 'Disable Neon Auth; delete_data also deletes its users.',
  toolset: 'auth',
  beta: true,
  operations: ['disableNeonAuth'],
  input: { ...namedIds, delete_data: z.boolean().optional().describe('delete data') },
  output: output({ disabled: z.boolean() }),
  hints: DESTROY,
  async handler({ project_id, branch_id, delete_data }, { client, signal }) {
    await client.delete(base, {
      path: { project_id, branch_id },
      body: delete_data === undefined ? undefined : { delete_data },
      signal,
    });
    return { disabled: true };
  },
});

const bool = z.boolean().optional();
const WEBHOOK_EVENTS = [
  'user.before_create',
  'user.created',
  'send.otp',
  'send.magic_link',
  'organization.invitation.created',
  'organization.invitation.accepted',
  'phone_number.verified',
] as const;

/** Each settings section: its route, HTTP method and (enforced, not advertised) schema. */
const SETTINGS = {
  email_and_password: {
    route: '/projects/{project_id}/branches/{branch_id}/auth/email_and_password',
    method: 'PATCH',
    schema: z.strictObject({
      enabled: bool,
      email_verification_method: z.enum(['link', 'otp']).optional(),
      require_email_verification: bool,
      auto_sign_in_after_verification: bool,
      send_verification_email_on_sign_up: bool,
      send_verification_email_on_sign_in: bool,
      disable_sign_up: bool,
    }),
  },
  email_provider: {
    route: '/projects/{project_id}/branches/{branch_id}/auth/email_provider',
    method: 'PATCH',
    schema: z.union([
      z.strictObject({
        type: z.literal('standard'),
        host: z.string().min(1),
        port: int(1, 65_535),
        username: z.string(),
        password: z.string(),
        sender_email: z.email(),
        sender_name: z.string().min(1),
      }),
      z.strictObject({
        type: z.literal('shared'),
        sender_email: z.email().optional(),
        sender_name: z.string().optional(),
      }),
    ]),
  },
  allow_localhost: {
    route: '/projects/{project_id}/branches/{branch_id}/auth/allow_localhost',
    method: 'PATCH',
    schema: z.strictObject({ allow_localhost: z.boolean() }),
  },
  organization: {
    route: '/projects/{project_id}/branches/{branch_id}/auth/plugins/organization',
    method: 'PATCH',
    schema: z.strictObject({
      enabled: bool,
      organization_limit: z.number().int().min(1).optional(),
      membership_limit: z.number().int().min(1).optional(),
      creator_role: z.enum(['admin', 'owner']).optional(),
      send_invitation_email: bool,
    }),
  },
  magic_link: {
    route: '/projects/{project_id}/branches/{branch_id}/auth/plugins/magic-link',
    method: 'PATCH',
    schema: z.strictObject({ enabled: bool, expires_in: int(5, 1440).optional(), disable_sign_up: bool }),
  },
  phone_number: {
    route: '/projects/{project_id}/branches/{branch_id}/auth/plugins/phone-number',
    method: 'PATCH',
    schema: z.strictObject({ enabled: bool, otp_expires_in: int(60, 600).optional() }),
  },
  webhooks: {
    route: '/projects/{project_id}/branches/{branch_id}/auth/webhooks',
    method: 'PUT',
    schema: z.strictObject({
      enabled: z.boolean(),
      webhook_url: z.url().optional(),
      enabled_events: z.array(z.enum(WEBHOOK_EVENTS)).optional(),
      timeout_seconds: int(1, 10).optional(),
    }),
  },
} as const satisfies Record<string, { route: Route; method: HttpMethod; schema: z.ZodType }>;
type SettingsSection = keyof typeof SETTINGS;

export const updateNeonAuth = defineTool({
  name: 'update_neon_auth',
  title: 'Update Neon Auth',
  description: "Change one section of a branch's Neon Auth settings.",
  toolset: 'auth',
  operations: [
    'updateNeonAuthEmailAndPasswordConfig',
    'updateNeonAuthEmailProvider',
    'updateNeonAuthAllowLocalhost',
    'updateNeonAuthOrganizationPlugin',
    'updateNeonAuthMagicLinkPlugin',
    'updateNeonAuthPhoneNumberPlugin',
    'updateNeonAuthWebhookConfig',
  ],
  input: {
    ...ids,
    section: z.enum(Object.keys(SETTINGS) as [SettingsSection, ...SettingsSection[]]).describe('section'),
    // The fields of each section are enforced, not advertised (tokens); a refusal lists them.
    settings: anyObject.describe('Fields to change'),
  },
  output: output({ settings: item({}).describe('As get_neon_auth shows') }),
  hints: UPDATE,
  async handler({ project_id, branch_id, section, settings }, { client, signal }) {
    const { route, method, schema } = SETTINGS[section];
    let body: unknown = settings;
    // The email provider is discriminated by type; infer it from whether an SMTP host is given.
    if (section === 'email_provider' && !('type' in settings)) {
      body = { type: 'host' in settings ? 'standard' : 'shared', ...settings };
    }
    body = checkShape(schema as z.ZodType, body, 'settings');
    // One request for several sections: their routes and bodies differ, and the body was checked
    // against the section's own schema just above, so the union is sent through one signature.
    const res = await (client.request as UntypedRequest)(method, route, {
      path: { project_id, branch_id },
      body,
      signal,
    });
    return { settings: hideSecrets(res) };
  },
});

export const updateNeonAuthDomains = defineTool({
  name: 'update_neon_auth_domains',
  title: 'Update auth domains',
  description: 'Add or remove Neon Auth trusted domains.',
  toolset: 'auth',
  beta: true,
  operations: [
    'getNeonAuth',
    'addBranchNeonAuthTrustedDomain',
    'deleteBranchNeonAuthTrustedDomain',
    'listBranchNeonAuthTrustedDomains',
  ],
  input: {
    ...ids,
    add: z.array(z.url()).optional().describe('add'),
    remove: z.array(z.url()).optional().describe('remove'),
  },
  output: output({ domains: items({ domain: z.string() }) }),
  hints: UPDATE,
  async handler({ project_id, branch_id, add, remove }, { client, signal }) {
    const path = { project_id, branch_id };
    if (add?.length || remove?.length) {
      const { auth_provider } = await integration(client, path, signal);
      for (const domain of add ?? []) {
        await client.post(`${base}/domains`, { path, body: { domain, auth_provider }, signal });
      }
      if (remove?.length) {
        await client.delete(`${base}/domains`, {
          path,
          body: { auth_provider, domains: remove.map((domain) => ({ domain })) },
          signal,
        });
      }
    }
    const res = await client.get(`${base}/domains`, {
      path,
      signal,
    });
    return { domains: res.domains };
  },
});

export const setNeonAuthOauthProvider = defineTool({
  name: 'set_neon_auth_oauth_provider',
  title: 'Set OAuth provider',
  description: "Add or update an OAuth provider; without client_id, Neon's shared app.",
  toolset: 'auth',
  beta: true,
  operations: [
    'listBranchNeonAuthOauthProviders',
    'addBranchNeonAuthOauthProvider',
    'updateBranchNeonAuthOauthProvider',
  ],
  input: {
    ...ids,
    provider: oauthProvider.describe('provider'),
    client_id: text(512).optional().describe('client ID'),
    client_secret: text(512).optional().describe('client secret'),
    microsoft_tenant_id: text(128).optional().describe('microsoft tenant ID'),
  },
  output: output({ provider: item({ id: z.string(), type: z.string() }) }),
  hints: UPDATE,
  async handler({ project_id, branch_id, provider: id, ...creds }, { client, signal }) {
    const path = { project_id, branch_id };
    const body = defined(creds);
    const { providers } = await client.get(`${base}/oauth_providers`, { path, signal });
    const res = providers.some((p) => p.id === id)
      ? await client.patch(`${base}/oauth_providers/{oauth_provider_id}`, {
          path: { ...path, oauth_provider_id: id },
          body,
          signal,
        })
      : await client.post(`${base}/oauth_providers`, {
          path,
          body: { id, ...body },
          signal,
        });
    return { provider: hideSecrets(res) };
  },
});

export const deleteNeonAuthOauthProvider = defineTool({
  name: 'delete_neon_auth_oauth_provider',
  title: 'Delete OAuth provider',
  description: 'Remove a Neon Auth OAuth provider.',
  toolset: 'auth',
  beta: true,
  operations: ['deleteBranchNeonAuthOauthProvider'],
  // The same values as set_neon_auth_oauth_provider advertises; enforced here, not repeated (tokens).
  input: {
    ...namedIds,
    provider: z
      .string()
      .refine((v) => (oauthProvider.options as readonly string[]).includes(v), {
        message: `must be one of ${oauthProvider.options.join(', ')}`,
      })
      .describe('provider'),
  },
  output: output({ deleted: z.string() }),
  hints: DESTROY,
  async handler({ project_id, branch_id, provider: id }, { client, signal }) {
    await client.delete(`${base}/oauth_providers/{oauth_provider_id}`, {
      path: { project_id, branch_id, oauth_provider_id: id },
      signal,
    });
    return { deleted: id };
  },
});

export const createNeonAuthUser = defineTool({
  name: 'create_neon_auth_user',
  title: 'Create auth user',
  description: 'Create a Neon Auth user.',
  toolset: 'auth',
  beta: true,
  operations: ['createBranchNeonAuthNewUser'],
  input: {
    ...ids,
    email: z
      .email()
      .refine((v) => v.length <= 256, { message: 'must be at most 256 characters' })
      .describe('email'),
    name: text(255).optional().describe('name'),
  },
  output: output({ id: z.string() }),
  hints: CREATE,
  async handler({ project_id, branch_id, email, name }, { client, signal }) {
    return client.post(`${base}/users`, {
      path: { project_id, branch_id },
      body: defined({ email, name }),
      signal,
    });
  },
});

export const deleteNeonAuthUser = defineTool({
  name: 'delete_neon_auth_user',
  title: 'Delete auth user',
  description: 'Delete a Neon Auth user.',
  toolset: 'auth',
  beta: true,
  operations: ['deleteBranchNeonAuthUser'],
  input: { ...namedIds, user_id: userId },
  output: output({ deleted: z.string() }),
  hints: DESTROY,
  async handler({ project_id, branch_id, user_id }, { client, signal }) {
    await client.delete(`${base}/users/{auth_user_id}`, {
      path: { project_id, branch_id, auth_user_id: user_id },
      signal,
    });
    return { deleted: user_id };
  },
});

export const setNeonAuthUserRoles = defineTool({
  name: 'set_neon_auth_user_roles',
  title: 'Set user roles',
  description: "Replace a Neon Auth user's roles.",
  toolset: 'auth',
  operations: ['updateNeonAuthUserRole'],
  input: { ...ids, user_id: userId, roles: z.array(str(64)).min(1).describe('roles') },
  output: output({ roles: z.array(z.string()) }),
  hints: UPDATE,
  async handler({ project_id, branch_id, user_id, roles }, { client, signal }) {
    await client.put(`${base}/users/{auth_user_id}/role`, {
      path: { project_id, branch_id, auth_user_id: user_id },
      body: { roles } satisfies Schemas['UpdateNeonAuthUserRoleRequest'],
      signal,
    });
    return { roles };
  },
});

const SMTP = z.strictObject({
  host: str(256),
  port: int(1, 65_535),
  username: text(256),
  password: text(1024),
  sender_email: z.email(),
  sender_name: str(256),
});

export const sendNeonAuthTestEmail = defineTool({
  name: 'send_neon_auth_test_email',
  title: 'Send test email',
  description: 'Check SMTP settings by sending a test email; saves nothing.',
  toolset: 'auth',
  beta: true,
  operations: ['sendNeonAuthTestEmail'],
  input: {
    ...ids,
    recipient_email: z.email().describe('recipient email'),
    smtp: anyObject.describe('host, port, username, password, sender_email, sender_name'),
  },
  // Also returns `error_message` when the server refused.
  output: output({ success: z.boolean() }),
  hints: ACT,
  async handler({ project_id, branch_id, recipient_email, smtp }, { client, signal }) {
    const server = checkShape(SMTP, smtp, 'smtp');
    return client.post(`${base}/send_test_email`, {
      path: { project_id, branch_id },
      // Sent without `type`: the request schema is StandardEmailServer + recipient_email, which does not
      // declare it (the generated type adds it from the email-provider discriminator).
      body: { ...server, recipient_email } as Body<'POST', `${typeof base}/send_test_email`>,
      signal,
    });
  },
});

export const createNeonAuthSdkKeys = defineTool({
  name: 'create_neon_auth_sdk_keys',
  title: 'Create SDK keys',
  description: "Create SDK keys for a project's auth provider; shown once.",
  toolset: 'auth',
  operations: ['createNeonAuthProviderSDKKeys'],
  input: { project_id: projectId, auth_provider: provider.describe('auth provider') },
  // Also returns a `warning` about the secrets.
  output: output({
    neon_auth: neonAuth,
    secrets: item({ pub_client_key: z.string(), secret_server_key: z.string() }),
  }),
  hints: CREATE,
  async handler({ project_id, auth_provider }, { client, signal }) {
    const res = await client.post('/projects/auth/keys', {
      body: { project_id, auth_provider } satisfies Schemas['NeonAuthCreateAuthProviderSDKKeysRequest'],
      signal,
    });
    const { pub_client_key, secret_server_key, ...rest } = res;
    return { neon_auth: rest, secrets: { pub_client_key, secret_server_key }, warning: SECRET_WARNING };
  },
});

export const transferNeonAuthProject = defineTool({
  name: 'transfer_neon_auth_project',
  title: 'Transfer auth project',
  description: "Transfer a project's Neon-managed auth to the user's own account.",
  toolset: 'auth',
  operations: ['transferNeonAuthProviderProject'],
  input: { project_id: projectId, auth_provider: provider.describe('auth provider') },
  // Also returns a `warning` about the claim URL.
  output: output({ claim_url: z.string() }),
  hints: ACT,
  async handler({ project_id, auth_provider }, { client, signal }) {
    const res = await client.post('/projects/auth/transfer_ownership', {
      body: { project_id, auth_provider } satisfies Schemas['NeonAuthTransferAuthProviderProjectRequest'],
      signal,
    });
    return {
      claim_url: res.url,
      warning: 'SECRET: whoever opens this URL while signed in takes ownership. Give it only to the user.',
    };
  },
});

export const authTools: ToolDef[] = [
  enableNeonAuth,
  getNeonAuth,
  updateNeonAuth,
  disableNeonAuth,
  updateNeonAuthDomains,
  setNeonAuthOauthProvider,
  deleteNeonAuthOauthProvider,
  createNeonAuthUser,
  deleteNeonAuthUser,
  setNeonAuthUserRoles,
  sendNeonAuthTestEmail,
  createNeonAuthSdkKeys,
  transferNeonAuthProject,
];
