/**
 * Neon Auth on a branch (integration, settings, domains, OAuth providers, users) and the project-level
 * SDK keys and ownership transfer. Serves src/tools/auth.ts. State is per {@link NeonFake} (see {@link authStore}).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { HttpResponse, http, type RequestHandler } from 'msw';
import { type Json, jsonBody, type Params } from './common.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';

export interface BranchAuth {
  integration: Json;
  domains: Json[];
  oauth: Json[];
  users: Map<string, Json>;
  email_and_password: Json;
  email_provider: Json;
  allow_localhost: boolean;
  organization: Json;
  magic_link: Json;
  phone_number: Json;
  webhooks: Json;
}

export interface AuthStore {
  branches: Map<string, BranchAuth>;
  /** Bodies of send_test_email, for assertions. */
  testEmails: Json[];
  transfers: Json[];
}

const stores = new WeakMap<NeonFake, AuthStore>();
export function authStore(fake: NeonFake): AuthStore {
  let s = stores.get(fake);
  if (!s) {
    s = { branches: new Map(), testEmails: [], transfers: [] };
    stores.set(fake, s);
  }
  return s;
}

const keys = (provider: string) => ({
  auth_provider: provider,
  auth_provider_project_id: randomUUID(),
  pub_client_key: `pck_${randomBytes(12).toString('hex')}`,
  secret_server_key: `ssk_${randomBytes(16).toString('hex')}`,
  jwks_url: 'https://auth.example.test/.well-known/jwks.json',
  schema_name: 'neon_auth',
  table_name: 'users_sync',
  base_url: 'https://auth.example.test',
});

/** Neon Auth enabled on a branch with default settings (what POST …/auth does). */
export function enableAuth(
  fake: NeonFake,
  branchId: string,
  provider = 'better_auth',
  dbName = 'neondb',
): BranchAuth {
  const auth: BranchAuth = {
    integration: {
      auth_provider: provider,
      auth_provider_project_id: randomUUID(),
      branch_id: branchId,
      db_name: dbName,
      created_at: new Date().toISOString(),
      owned_by: 'neon',
      jwks_url: 'https://auth.example.test/.well-known/jwks.json',
      base_url: 'https://auth.example.test',
    },
    domains: [],
    oauth: [{ id: 'google', type: 'shared' }],
    users: new Map(),
    email_and_password: {
      enabled: true,
      email_verification_method: 'link',
      require_email_verification: false,
      auto_sign_in_after_verification: true,
      send_verification_email_on_sign_up: false,
      send_verification_email_on_sign_in: false,
      disable_sign_up: false,
    },
    email_provider: { sender_email: 'noreply@neon.example', sender_name: 'Neon' },
    allow_localhost: true,
    organization: {
      enabled: false,
      organization_limit: 5,
      membership_limit: 100,
      creator_role: 'owner',
      send_invitation_email: true,
    },
    magic_link: { enabled: false, expires_in: 15, disable_sign_up: false },
    phone_number: { enabled: false, otp_expires_in: 300 },
    webhooks: { enabled: false },
  };
  authStore(fake).branches.set(branchId, auth);
  return auth;
}

export function authHandlers(fake: NeonFake): RequestHandler[] {
  const s = authStore(fake);
  const notFound = (what: string) => neonError(404, `${what} not found`, 'NOT_FOUND');
  const A = `${BASE}/projects/:project_id/branches/:branch_id/auth`;

  type Args = { params: Params; request: Request; branch: Json; auth: BranchAuth };
  /** Runs `fn` for a branch with Neon Auth enabled; 404 otherwise. */
  const withAuth =
    (fn: (a: Args) => Response | Promise<Response>) =>
    ({ params: raw, request }: { params: Record<string, unknown>; request: Request }) => {
      const params = raw as Params;
      if (!fake.projects.get(params.project_id)) return notFound(`project ${params.project_id}`);
      const branch = fake.branches.get(params.branch_id);
      if (!branch || branch.project_id !== params.project_id) return notFound(`branch ${params.branch_id}`);
      const auth = s.branches.get(branch.id);
      if (!auth) return neonError(404, 'Neon Auth is not enabled on this branch', 'NOT_FOUND');
      return fn({ params, request, branch, auth });
    };
  /** GET returns a settings object; PATCH merges into it (PUT replaces it). */
  const settings = (
    path: string,
    key:
      | 'email_and_password'
      | 'organization'
      | 'magic_link'
      | 'phone_number'
      | 'webhooks'
      | 'email_provider',
    write: 'patch' | 'put',
  ) => [
    ...(key === 'organization' || key === 'magic_link'
      ? []
      : [
          http.get(
            `${A}/${path}`,
            withAuth(({ auth }) => HttpResponse.json(auth[key])),
          ),
        ]),
    http[write](
      `${A}/${path}`,
      withAuth(async ({ request, auth }) => {
        const body = await jsonBody(request);
        if (key === 'email_provider') {
          const { type, ...rest } = body;
          auth.email_provider = type === 'shared' ? { ...rest } : rest;
        } else auth[key] = write === 'put' ? body : { ...auth[key], ...body };
        return HttpResponse.json(auth[key]);
      }),
    ),
  ];

  return [
    // Integration
    http.get(
      A,
      withAuth(({ auth }) => HttpResponse.json(auth.integration)),
    ),
    http.post(A, async ({ params, request }) => {
      const p = params as Params;
      const branch = fake.branches.get(p.branch_id);
      if (!fake.projects.get(p.project_id) || !branch) return notFound(`branch ${p.branch_id}`);
      if (s.branches.has(branch.id)) return neonError(409, 'Neon Auth is already enabled', 'CONFLICT');
      const body = await jsonBody(request);
      const auth = enableAuth(fake, branch.id, body.auth_provider, body.database_name);
      const k = keys(body.auth_provider);
      auth.integration.auth_provider_project_id = k.auth_provider_project_id;
      return HttpResponse.json(k, { status: 201 });
    }),
    http.delete(
      A,
      withAuth(async ({ request, branch, auth }) => {
        const body = await jsonBody(request);
        s.branches.delete(branch.id);
        if (body.delete_data) auth.users.clear();
        return new HttpResponse(null, { status: 200 });
      }),
    ),

    // Settings
    http.get(
      `${A}/plugins`,
      withAuth(({ auth }) =>
        HttpResponse.json({
          organization: auth.organization,
          magic_link: auth.magic_link,
          phone_number: auth.phone_number,
          email_provider: auth.email_provider,
          email_and_password: auth.email_and_password,
          oauth_providers: auth.oauth,
          allow_localhost: auth.allow_localhost,
        }),
      ),
    ),
    ...settings('email_and_password', 'email_and_password', 'patch'),
    ...settings('email_provider', 'email_provider', 'patch'),
    ...settings('plugins/organization', 'organization', 'patch'),
    ...settings('plugins/magic-link', 'magic_link', 'patch'),
    ...settings('plugins/phone-number', 'phone_number', 'patch'),
    ...settings('webhooks', 'webhooks', 'put'),
    http.get(
      `${A}/allow_localhost`,
      withAuth(({ auth }) => HttpResponse.json({ allow_localhost: auth.allow_localhost })),
    ),
    http.patch(
      `${A}/allow_localhost`,
      withAuth(async ({ request, auth }) => {
        auth.allow_localhost = (await jsonBody(request)).allow_localhost;
        return HttpResponse.json({ allow_localhost: auth.allow_localhost });
      }),
    ),

    // Trusted domains
    http.get(
      `${A}/domains`,
      withAuth(({ auth }) => HttpResponse.json({ domains: auth.domains })),
    ),
    http.post(
      `${A}/domains`,
      withAuth(async ({ request, auth }) => {
        const body = await jsonBody(request);
        if (body.auth_provider !== auth.integration.auth_provider)
          return neonError(400, `auth_provider must be ${auth.integration.auth_provider}`, 'BAD_REQUEST');
        if (!auth.domains.some((d) => d.domain === body.domain))
          auth.domains.push({ domain: body.domain, auth_provider: body.auth_provider });
        return new HttpResponse(null, { status: 201 });
      }),
    ),
    http.delete(
      `${A}/domains`,
      withAuth(async ({ request, auth }) => {
        const body = await jsonBody(request);
        const gone = new Set(body.domains.map((d: Json) => d.domain));
        auth.domains = auth.domains.filter((d) => !gone.has(d.domain));
        return new HttpResponse(null, { status: 200 });
      }),
    ),

    // OAuth providers
    http.get(
      `${A}/oauth_providers`,
      withAuth(({ auth }) => HttpResponse.json({ providers: auth.oauth })),
    ),
    http.post(
      `${A}/oauth_providers`,
      withAuth(async ({ request, auth }) => {
        const { id, ...creds } = await jsonBody(request);
        if (auth.oauth.some((p) => p.id === id))
          return neonError(409, `provider ${id} already exists`, 'CONFLICT');
        const provider = { id, type: creds.client_id ? 'standard' : 'shared', ...creds };
        auth.oauth.push(provider);
        return HttpResponse.json(provider);
      }),
    ),
    http.patch(
      `${A}/oauth_providers/:oauth_provider_id`,
      withAuth(async ({ params, request, auth }) => {
        const provider = auth.oauth.find((p) => p.id === params.oauth_provider_id);
        if (!provider) return notFound(`OAuth provider ${params.oauth_provider_id}`);
        Object.assign(provider, await jsonBody(request));
        if (provider.client_id) provider.type = 'standard';
        return HttpResponse.json(provider);
      }),
    ),
    http.delete(
      `${A}/oauth_providers/:oauth_provider_id`,
      withAuth(({ params, auth }) => {
        const before = auth.oauth.length;
        auth.oauth = auth.oauth.filter((p) => p.id !== params.oauth_provider_id);
        return auth.oauth.length < before
          ? new HttpResponse(null, { status: 200 })
          : notFound(`OAuth provider ${params.oauth_provider_id}`);
      }),
    ),

    // Users
    http.post(
      `${A}/users`,
      withAuth(async ({ request, auth }) => {
        const body = await jsonBody(request);
        if ([...auth.users.values()].some((u) => u.email === body.email))
          return neonError(409, `user ${body.email} already exists`, 'CONFLICT');
        const id = randomUUID();
        auth.users.set(id, { id, ...body, roles: ['user'] });
        return HttpResponse.json({ id }, { status: 201 });
      }),
    ),
    http.delete(
      `${A}/users/:auth_user_id`,
      withAuth(({ params, auth }) =>
        auth.users.delete(params.auth_user_id)
          ? new HttpResponse(null, { status: 204 })
          : notFound(`user ${params.auth_user_id}`),
      ),
    ),
    http.put(
      `${A}/users/:auth_user_id/role`,
      withAuth(async ({ params, request, auth }) => {
        const user = auth.users.get(params.auth_user_id);
        if (!user) return notFound(`user ${params.auth_user_id}`);
        user.roles = (await jsonBody(request)).roles;
        return HttpResponse.json({ id: user.id });
      }),
    ),

    // Test email
    http.post(
      `${A}/send_test_email`,
      withAuth(async ({ request }) => {
        const body = await jsonBody(request);
        s.testEmails.push(body);
        return HttpResponse.json(
          body.host === 'smtp.bad.example'
            ? { success: false, error_message: 'connection refused' }
            : { success: true },
        );
      }),
    ),

    // Provider project (project level)
    http.post(`${BASE}/projects/auth/keys`, async ({ request }) => {
      const body = await jsonBody(request);
      if (!fake.projects.get(body.project_id)) return notFound(`project ${body.project_id}`);
      return HttpResponse.json(keys(body.auth_provider), { status: 201 });
    }),
    http.post(`${BASE}/projects/auth/transfer_ownership`, async ({ request }) => {
      const body = await jsonBody(request);
      if (!fake.projects.get(body.project_id)) return notFound(`project ${body.project_id}`);
      s.transfers.push(body);
      return HttpResponse.json({
        url: `https://app.stack-auth.example/claim/${randomBytes(8).toString('hex')}`,
      });
    }),
  ];
}
