/** Personal API keys of the Neon account. */
import * as z from 'zod';
import type { Schemas } from '../client/neon-client.js';
import { anyObject, CREATE, DESTROY, defineTool, output, READ } from './framework.js';
import { pick } from './util.js';

/** The ID of an API key (personal or organization). */
export const keyId = z
  .number()
  .int()
  .refine((v) => v >= 1, { message: 'must be an API key ID (a positive integer)' })
  .describe('Key ID');
/** The name given to a new API key. */
export const keyName = z
  .string()
  .refine((v) => v.length > 0 && v.length <= 64, { message: 'must be 1 to 64 characters' })
  .describe('Key name');
/** Goes next to a newly created key, the only time Neon shows it. */
export const KEY_WARNING =
  'SECRET: `key` is shown only this once and cannot be retrieved again. Give it to the user to store securely.';

/** The fields of a listed key worth showing (never a token: Neon lists none). */
export function keySummary(k: Schemas['ApiKeysListResponseItem'] & { project_id?: string }) {
  return {
    ...pick(k, ['id', 'name', 'created_at', 'last_used_at', 'last_used_from_addr', 'project_id']),
    created_by: k.created_by?.name,
  };
}

export const listApiKeys = defineTool({
  name: 'list_api_keys',
  title: 'List API keys',
  description: 'List your personal API keys (never their tokens).',
  toolset: 'api_keys',
  accountLevel: true,
  operations: ['listApiKeys'],
  input: {},
  output: output({ api_keys: z.array(anyObject) }),
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
  input: { key_name: keyName },
  // Also returns warning, which labels the key as a secret.
  output: output({ api_key: anyObject, key: z.string() }),
  hints: CREATE,
  async handler({ key_name }, { client, signal }) {
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
  output: output({ api_key: anyObject }),
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
