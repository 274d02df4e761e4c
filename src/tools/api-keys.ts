/** Personal API keys of the Neon account. */
import * as z from 'zod';
import type { Schemas } from '../client/neon-client.js';
import { keySummary } from '../neon/resources.js';
import { pick } from '../neon/util.js';
import { KEY_WARNING, keyId, keyName } from './fields.js';
import { CREATE, DESTROY, defineTool, item, output, READ } from './framework.js';

const apiKey = item({ id: z.number(), name: z.string() });

export const listApiKeys = defineTool({
  name: 'list_api_keys',
  title: 'List API keys',
  description: 'List your personal API keys (never their tokens).',
  toolset: 'api_keys',
  accountLevel: true,
  operations: ['listApiKeys'],
  input: {},
  output: output({ api_keys: z.array(apiKey) }),
  hints: READ,
  async handler(_args, { client, signal }) {
    const keys = await client.get('/api_keys', { signal });
    return { api_keys: keys.map(keySummary) };
  },
});

export const createApiKey = defineTool({
  name: 'create_api_key',
  title: 'Create API key',
  description: 'Create a personal API key (full access); secret shown once.',
  toolset: 'api_keys',
  accountLevel: true,
  operations: ['createApiKey'],
  input: { name: keyName },
  // Also returns warning, which labels the key as a secret.
  output: output({ api_key: apiKey, key: z.string() }),
  hints: CREATE,
  async handler({ name: key_name }, { client, signal }) {
    const res = await client.post('/api_keys', {
      body: { key_name } satisfies Schemas['ApiKeyCreateRequest'],
      signal,
    });
    return {
      api_key: pick(res, ['id', 'name', 'created_at']),
      key: res.key,
      warning: KEY_WARNING,
    };
  },
});

export const revokeApiKey = defineTool({
  name: 'revoke_api_key',
  title: 'Revoke API key',
  description: 'Revoke a personal API key for good.',
  toolset: 'api_keys',
  accountLevel: true,
  operations: ['revokeApiKey'],
  input: { key_id: keyId },
  output: output({ api_key: apiKey }),
  hints: DESTROY,
  async handler({ key_id }, { client, signal }) {
    const res = await client.delete('/api_keys/{key_id}', {
      path: { key_id },
      signal,
    });
    return { api_key: pick(res, ['id', 'name', 'revoked', 'last_used_at']) };
  },
});

export const apiKeyTools = [listApiKeys, createApiKey, revokeApiKey];
