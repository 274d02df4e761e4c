import { HttpResponse, http, type RequestHandler } from 'msw';
import { notFound } from './common.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';
import { accountStore } from './stores.js';

export function userHandlers(fake: NeonFake): RequestHandler[] {
  const s = accountStore(fake);
  return [
    http.get(`${BASE}/auth`, () => HttpResponse.json(s.auth)),
    http.get(`${BASE}/users/me`, () =>
      s.auth.auth_method === 'api_key_org'
        ? neonError(404, 'user not found for an organization API key')
        : HttpResponse.json(s.user),
    ),
    http.get(`${BASE}/users/me/organizations`, () =>
      HttpResponse.json({ organizations: [...s.orgs.values()].map((o) => o.org) }),
    ),
    http.get(`${BASE}/regions`, ({ request }) => {
      const orgId = new URL(request.url).searchParams.get('org_id');
      if (orgId && !s.orgs.has(orgId)) return notFound(`organization ${orgId}`);
      // Organizations see AWS regions only, to make the filter observable.
      const regions = orgId ? s.regions.filter((r) => r.region_id.startsWith('aws-')) : s.regions;
      return HttpResponse.json({ regions });
    }),
  ];
}
