/**
 * Personal API keys. Serves src/tools/api-keys.ts.
 */
import { randomUUID } from 'node:crypto';
import { HttpResponse, http, type RequestHandler } from 'msw';
import { jsonBody, notFound, now } from './common.js';
import { BASE, type NeonFake } from './neon-fake.js';
import { accountStore } from './stores.js';

export function apiKeyHandlers(fake: NeonFake): RequestHandler[] {
  const s = accountStore(fake);
  return [
    http.get(`${BASE}/api_keys`, () =>
      HttpResponse.json(s.apiKeys.map(({ key: _k, revoked: _r, ...rest }) => rest)),
    ),
    http.post(`${BASE}/api_keys`, async ({ request }) => {
      const { key_name } = await jsonBody(request);
      const key = {
        id: s.nextKeyId++,
        name: key_name,
        key: `napi_${randomUUID().replace(/-/g, '')}`,
        created_at: now(),
        created_by: { id: randomUUID(), name: 'Ada Lovelace', image: '' },
        last_used_at: null,
        last_used_from_addr: '',
      };
      s.apiKeys.push(key);
      return HttpResponse.json({
        id: key.id,
        key: key.key,
        name: key.name,
        created_at: key.created_at,
        created_by: key.created_by.id,
      });
    }),
    http.delete(`${BASE}/api_keys/:key_id`, ({ params }) => {
      const i = s.apiKeys.findIndex((k) => String(k.id) === params.key_id);
      if (i < 0) return notFound(`API key ${params.key_id}`);
      const [k] = s.apiKeys.splice(i, 1);
      return HttpResponse.json({
        id: k.id,
        name: k.name,
        created_at: k.created_at,
        created_by: k.created_by.id,
        last_used_at: k.last_used_at,
        last_used_from_addr: k.last_used_from_addr,
        revoked: true,
      });
    }),
  ];
}
