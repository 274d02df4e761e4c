/**
 * Branchable object storage (beta): whether a branch has it, buckets, objects, presigned URLs, and the
 * branch credentials (S3 keys and API tokens) that storage, functions and the AI gateway accept.
 */
import * as z from 'zod';
import { InvalidArgumentError } from '../client/errors.js';
import type { Schemas } from '../client/neon-client.js';
import { featureStatus } from '../neon/features.js';
import { defined, pick } from '../neon/util.js';
import { branchId, cursor, onBranchId, projectId, str, text } from './fields.js';
import { ACT, CREATE, DESTROY, defineTool, item, items, output, READ, type ToolDef } from './framework.js';

const bucketOut = item({ name: z.string(), access_level: z.string() });
const credential = item({ token_id: z.string(), name: z.string() });

const bucketRoute = '/projects/{project_id}/branches/{branch_id}/buckets/{bucket_name}' as const;
const bucket = str(255).describe('bucket');

/** Keys may hold `/`; each key travels as one path segment with `/` as %2F, as the API requires. */
const objectKey = str(1024).describe('key');

export const getStorage = defineTool({
  name: 'get_storage',
  title: 'Get storage',
  description: 'Whether a branch has object storage, and its buckets.',
  toolset: 'storage',
  beta: true,
  operations: ['getProjectBranchStorage', 'listProjectBranchBuckets'],
  input: { project_id: projectId, branch_id: onBranchId },
  // Also returns `buckets` when storage is enabled.
  output: output({
    storage: item({ enabled: z.boolean(), s3_endpoint: z.string() }),
    buckets: z.array(bucketOut).optional(),
  }),
  hints: READ,
  async handler({ project_id, branch_id }, { client, signal }) {
    const path = { project_id, branch_id };
    const storage = await featureStatus<Schemas['BranchStorage']>(
      client,
      '/projects/{project_id}/branches/{branch_id}/storage',
      path,
      signal,
    );
    if (!storage.enabled) return { storage };
    const res = await client.get('/projects/{project_id}/branches/{branch_id}/buckets', { path, signal });
    return { storage, buckets: res.buckets };
  },
});

export const createBucket = defineTool({
  name: 'create_bucket',
  title: 'Create bucket',
  description: 'Create a bucket on a branch; child branches inherit it.',
  toolset: 'storage',
  beta: true,
  operations: ['createProjectBranchBucket'],
  input: {
    project_id: projectId,
    branch_id: onBranchId,
    name: str(255).describe('name'),
    public_read: z.boolean().optional().describe('Default private'),
  },
  output: output({ bucket: bucketOut }),
  hints: CREATE,
  async handler({ project_id, branch_id, name, public_read }, { client, signal }) {
    const res = await client.post('/projects/{project_id}/branches/{branch_id}/buckets', {
      path: { project_id, branch_id },
      body: defined({
        name,
        access_level:
          public_read === undefined
            ? undefined
            : public_read
              ? ('public_read' as const)
              : ('private' as const),
      }),
      signal,
    });
    return { bucket: res.bucket };
  },
});

export const deleteBucket = defineTool({
  name: 'delete_bucket',
  title: 'Delete bucket',
  description: 'Delete a bucket from a branch.',
  toolset: 'storage',
  beta: true,
  operations: ['deleteProjectBranchBucket'],
  input: { project_id: projectId, branch_id: branchId, bucket },
  output: output({ deleted: z.string() }),
  hints: DESTROY,
  async handler({ project_id, branch_id, bucket }, { client, signal }) {
    await client.delete(bucketRoute, { path: { project_id, branch_id, bucket_name: bucket }, signal });
    return { deleted: bucket };
  },
});

/** Objects (and folders) per page of list_bucket_objects. */
const OBJECTS_PAGE = 200;

export const listBucketObjects = defineTool({
  name: 'list_bucket_objects',
  title: 'List objects',
  description: "List a bucket's objects; delimiter '/' groups keys into folders.",
  toolset: 'storage',
  beta: true,
  operations: ['listProjectBranchBucketObjects'],
  input: {
    project_id: projectId,
    branch_id: onBranchId,
    bucket,
    prefix: text(1024).optional().describe('prefix'),
    delimiter: text(16).optional().describe('delimiter'),
    cursor,
  },
  // Also returns `folders` (with a delimiter).
  output: output({
    objects: items({ key: z.string(), size: z.number() }),
    next_cursor: z.string().optional(),
  }),
  hints: READ,
  async handler({ project_id, branch_id, bucket, ...query }, { client, signal }) {
    const res = await client.get(
      '/projects/{project_id}/branches/{branch_id}/buckets/{bucket_name}/objects',
      {
        path: { project_id, branch_id, bucket_name: bucket },
        query: { ...query, limit: OBJECTS_PAGE },
        signal,
      },
    );
    return {
      objects: res.objects.map((o) => pick(o, ['key', 'size', 'last_modified'])),
      folders: res.folders,
      ...(res.is_truncated && res.next_cursor ? { next_cursor: res.next_cursor } : {}),
    };
  },
});

/** Text up to this many bytes is returned inline by read_bucket_object. */
export const MAX_INLINE_BYTES = 64 * 1024;

export const readBucketObject = defineTool({
  name: 'read_bucket_object',
  title: 'Read object',
  description: 'Read an object (text up to 64 KB; else its size).',
  toolset: 'storage',
  beta: true,
  operations: ['getProjectBranchBucketObject'],
  input: { project_id: projectId, branch_id: onBranchId, bucket, key: objectKey },
  // Also returns `truncated` when cut.
  output: output({ size: z.number(), text: z.string().optional() }),
  hints: READ,
  async handler({ project_id, branch_id, bucket, key }, { client, signal }) {
    const res = await client.sendRaw(
      'GET',
      '/projects/{project_id}/branches/{branch_id}/buckets/{bucket_name}/objects/{object_key}/download',
      {
        path: { project_id, branch_id, bucket_name: bucket, object_key: key },
        accept: 'application/octet-stream',
        signal,
      },
    );
    const { bytes, total } = await readHead(res, MAX_INLINE_BYTES);
    const size = Number(res.headers.get('content-length') ?? total);
    const truncated = total > bytes.length;
    const textValue = utf8(bytes, truncated);
    if (textValue === undefined) return { size };
    return { size, text: textValue, ...(truncated ? { truncated: true } : {}) };
  },
});

/** Reads up to `max` bytes of a body and counts (without keeping) the rest. */
async function readHead(res: Response, max: number): Promise<{ bytes: Uint8Array; total: number }> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  let total = 0;
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (kept < max) {
        const part = value.subarray(0, max - kept);
        chunks.push(part);
        kept += part.length;
      } else if (total > max * 64) {
        // Far past what is shown; stop downloading.
        await reader.cancel();
        break;
      }
    }
  }
  const bytes = new Uint8Array(kept);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return { bytes, total };
}

/** The bytes as text when they are UTF-8 without NULs; a cut may split the last character. */
function utf8(bytes: Uint8Array, cut: boolean): string | undefined {
  let end = bytes.length;
  if (cut) {
    // Drop a multi-byte character split by the cut: find its lead byte and the length it announces.
    let lead = end - 1;
    while (lead > 0 && end - lead < 4 && (bytes[lead] & 0xc0) === 0x80) lead--;
    const b = bytes[lead] ?? 0;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    if (end - lead < need) end = lead;
  }
  try {
    const s = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, end));
    return s.includes('\u0000') ? undefined : s;
  } catch {
    return undefined;
  }
}

export const deleteBucketObjects = defineTool({
  name: 'delete_bucket_objects',
  title: 'Delete objects',
  description: "Delete an object (key) or folder (prefix ending '/').",
  toolset: 'storage',
  beta: true,
  operations: ['deleteProjectBranchBucketObject', 'deleteProjectBranchBucketObjectsByPrefix'],
  input: {
    project_id: projectId,
    branch_id: branchId,
    bucket,
    key: objectKey.optional(),
    prefix: text(1024).optional().describe('prefix'),
  },
  output: output({ deleted: z.number() }),
  hints: DESTROY,
  async handler({ project_id, branch_id, bucket, key, prefix }, { client, signal }) {
    const path = { project_id, branch_id, bucket_name: bucket };
    if ((key === undefined) === (prefix === undefined))
      throw new InvalidArgumentError('Give key or prefix (one of them).');
    if (key !== undefined) {
      await client.delete(
        '/projects/{project_id}/branches/{branch_id}/buckets/{bucket_name}/objects/{object_key}',
        { path: { ...path, object_key: key }, signal },
      );
      return { deleted: 1 };
    }
    if (!prefix?.endsWith('/')) {
      throw new InvalidArgumentError(
        `prefix must end with '/' (a folder), e.g. "${prefix}/"; to delete one object pass key.`,
      );
    }
    const res = await client.delete(
      '/projects/{project_id}/branches/{branch_id}/buckets/{bucket_name}/objects-by-prefix',
      {
        path,
        query: { prefix },
        signal,
      },
    );
    return { deleted: res.deleted };
  },
});

export const presignBucketObject = defineTool({
  name: 'presign_bucket_object',
  title: 'Presign object',
  description: 'Get a short-lived URL to download or upload an object.',
  toolset: 'storage',
  beta: true,
  operations: ['presignProjectBranchBucketObject'],
  input: {
    project_id: projectId,
    branch_id: onBranchId,
    bucket,
    key: objectKey,
    upload: z.boolean().optional().describe('upload'),
    content_type: text(256).optional().describe('For upload'),
  },
  // Also returns a `warning` about sharing the URL.
  output: output({ presigned: item({ url: z.string(), expires_at: z.string() }) }),
  hints: ACT,
  async handler({ project_id, branch_id, bucket, key, upload, content_type }, { client, signal }) {
    const res = await client.post(
      '/projects/{project_id}/branches/{branch_id}/buckets/{bucket_name}/objects/{object_key}/presign',
      {
        path: { project_id, branch_id, bucket_name: bucket, object_key: key },
        body: defined({
          operation: upload ? 'upload' : 'download',
          content_type,
        }) as Schemas['PresignRequest'],
        signal,
      },
    );
    return {
      presigned: res,
      warning:
        'SECRET: the URL grants access to this object until expires_at; share it only with whoever must transfer it.',
    };
  },
});

const credentialRoute = '/projects/{project_id}/branches/{branch_id}/credentials' as const;
const CREDENTIAL_SUMMARY = [
  'token_id',
  'name',
  'scopes',
  'created_at',
  'last_used_at',
  'revoked_at',
  'expires_at',
] as const;

export const createBranchCredential = defineTool({
  name: 'create_branch_credential',
  title: 'Create credential',
  description: 'Create a credential for storage, functions or AI gateway; secret shown once.',
  toolset: 'storage',
  beta: true,
  operations: ['createCredential'],
  input: {
    project_id: projectId,
    branch_id: onBranchId,
    scopes: z
      .array(z.enum(['storage:read', 'storage:write', 'ai_gateway:invoke', 'functions:invoke']))
      .refine((v) => v.length > 0, { message: 'give at least one scope' })
      .describe('scopes'),
    name: text(256).optional().describe('name'),
  },
  // Also returns a `warning` about the secrets.
  output: output({ credential, secrets: item({ api_token: z.string(), s3_secret_access_key: z.string() }) }),
  hints: CREATE,
  async handler({ project_id, branch_id, scopes, name }, { client, signal }) {
    const res = await client.post(credentialRoute, {
      path: { project_id, branch_id },
      body: defined({
        name,
        scopes: [...new Set(scopes)],
        principal_type: 'user',
      }) as Schemas['CreateCredentialRequest'],
      signal,
    });
    return {
      credential: pick(res, ['token_id', 'name', 'scopes', 'branch_id', 'created_at', 'expires_at']),
      secrets: { api_token: res.api_token, s3_secret_access_key: res.s3_secret_access_key },
      warning:
        'SECRET: these secrets are shown only this once. Give them to the user to store securely. ' +
        'For S3 clients, token_id is the access key ID and s3_secret_access_key the secret.',
    };
  },
});

export const listBranchCredentials = defineTool({
  name: 'list_branch_credentials',
  title: 'List credentials',
  description: "List a branch's credentials, without secrets.",
  toolset: 'storage',
  beta: true,
  operations: ['listCredentials'],
  input: { project_id: projectId, branch_id: onBranchId },
  output: output({ credentials: z.array(credential) }),
  hints: READ,
  async handler({ project_id, branch_id }, { client, signal }) {
    const res = await client.get(credentialRoute, {
      path: { project_id, branch_id },
      signal,
    });
    return { credentials: res.credentials.map((c) => pick(c, CREDENTIAL_SUMMARY)) };
  },
});

export const revokeBranchCredential = defineTool({
  name: 'revoke_branch_credential',
  title: 'Revoke credential',
  description: 'Revoke a branch credential.',
  toolset: 'storage',
  beta: true,
  operations: ['revokeCredential'],
  input: {
    project_id: projectId,
    branch_id: branchId,
    token_id: str(128).describe('From list_branch_credentials'),
  },
  output: output({ revoked: z.string() }),
  hints: DESTROY,
  async handler({ project_id, branch_id, token_id }, { client, signal }) {
    await client.delete('/projects/{project_id}/branches/{branch_id}/credentials/{token_id}', {
      path: { project_id, branch_id, token_id },
      signal,
    });
    return { revoked: token_id };
  },
});

export const storageTools: ToolDef[] = [
  getStorage,
  createBucket,
  deleteBucket,
  listBucketObjects,
  readBucketObject,
  deleteBucketObjects,
  presignBucketObject,
  createBranchCredential,
  listBranchCredentials,
  revokeBranchCredential,
];
