/**
 * Neon Functions (private beta): code deployed per branch with an invocation URL, and the AI gateway
 * endpoint of a branch. A deployment is a multipart upload of a ZIP; the tool can build the ZIP from
 * source files given as text.
 */
import { deflateRawSync } from 'node:zlib';
import * as z from 'zod';
import { InvalidArgumentError, NeonError } from '../client/errors.js';
import type { NeonClient, Schemas } from '../client/neon-client.js';
import { featureStatus } from '../neon/features.js';
import { pollStatus } from '../neon/status.js';
import { pick } from '../neon/util.js';
import { branchId, cursor, onBranchId, projectId, str } from './fields.js';
import { CREATE, DESTROY, defineTool, item, output, READ, type ToolDef, UPDATE } from './framework.js';

const fn = item({ slug: z.string(), name: z.string() });

type NeonFunction = Schemas['NeonFunction'];
type Deployment = Schemas['NeonFunctionDeployment'];

const SLUG = /^[a-z0-9]{1,20}$/;
const slug = z
  .string()
  .refine((v) => SLUG.test(v), { message: 'must be 1-20 lowercase letters or digits' })
  .describe('slug');
const functionRoute = '/projects/{project_id}/branches/{branch_id}/functions/{slug}' as const;

/**
 * Optional string → string map; string values are enforced by a refinement rather than advertised as
 * `additionalProperties` (tokens).
 */
const textMap = (what: string) =>
  z
    .record(z.string(), z.unknown())
    .refine((v) => Object.values(v).every((x) => typeof x === 'string'), {
      message: 'values must be strings',
    })
    .optional()
    .describe(what);

/** Functions per page of list_functions. */
const FUNCTIONS_PAGE = 100;
/** Limits on what deploy_function accepts, to keep one MCP message sane. */
const MAX_FILES_BYTES = 5 * 1024 * 1024;

const summarize = (f: NeonFunction) => ({
  ...pick(f, ['slug', 'name', 'invocation_url', 'created_at']),
  active_deployment:
    f.active_deployment && pick(f.active_deployment, ['id', 'status', 'runtime', 'created_at']),
});

async function getFunction(
  client: NeonClient,
  path: { project_id: string; branch_id: string; slug: string },
  signal: AbortSignal,
) {
  return (await client.get(functionRoute, { path, signal })).function;
}

export const listFunctions = defineTool({
  name: 'list_functions',
  title: 'List functions',
  description: "List a branch's functions.",
  toolset: 'functions',
  beta: true,
  operations: ['listProjectBranchFunctions'],
  input: { project_id: projectId, branch_id: onBranchId, cursor },
  output: output({ functions: z.array(fn), next_cursor: z.string().optional() }),
  hints: READ,
  async handler({ project_id, branch_id, cursor }, { client, signal }) {
    const res = await client.get('/projects/{project_id}/branches/{branch_id}/functions', {
      path: { project_id, branch_id },
      query: { limit: FUNCTIONS_PAGE, cursor },
      signal,
    });
    const next = res.functions.length === FUNCTIONS_PAGE ? res.pagination?.next : undefined;
    return { functions: res.functions.map(summarize), ...(next ? { next_cursor: next } : {}) };
  },
});

export const getFunctionTool = defineTool({
  name: 'get_function',
  title: 'Get function',
  description: 'Get a function with its latest and active deployments.',
  toolset: 'functions',
  beta: true,
  operations: ['getProjectBranchFunction'],
  input: { project_id: projectId, branch_id: onBranchId, slug },
  output: output({ function: fn }),
  hints: READ,
  async handler(path, { client, signal }) {
    return { function: await getFunction(client, path, signal) };
  },
});

export const renameFunction = defineTool({
  name: 'rename_function',
  title: 'Rename function',
  description: "Set a function's display name; null resets it.",
  toolset: 'functions',
  beta: true,
  operations: ['updateProjectBranchFunction'],
  input: {
    project_id: projectId,
    branch_id: onBranchId,
    slug,
    name: str(256)
      .refine((v) => v.trim().length > 0, { message: 'must not be blank' })
      .nullable()
      .describe('name'),
  },
  output: output({ function: fn }),
  hints: UPDATE,
  async handler({ project_id, branch_id, slug, name }, { client, signal }) {
    const res = await client.patch(functionRoute, {
      path: { project_id, branch_id, slug },
      body: { name } as Schemas['NeonFunctionUpdateRequest'],
      signal,
    });
    return { function: res.function };
  },
});

export const deleteFunction = defineTool({
  name: 'delete_function',
  title: 'Delete function',
  description: 'Delete a function and its deployments.',
  toolset: 'functions',
  beta: true,
  operations: ['deleteProjectBranchFunction'],
  input: { project_id: projectId, branch_id: branchId, slug },
  output: output({ deleted: z.string() }),
  hints: DESTROY,
  async handler(path, { client, signal }) {
    await client.delete(functionRoute, { path, signal });
    return { deleted: path.slug };
  },
});

/**
 * Longest zip_base64 accepted. One stdio message is at most 10 MiB (src/transport.ts, as the MCP SDK
 * reads): the zip, its envelope and any escaping must fit in it, so the field stays well below.
 */
const MAX_ZIP_BASE64 = 9_000_000;

export const deployFunction = defineTool({
  name: 'deploy_function',
  title: 'Deploy function',
  description: 'Deploy code or env to a function, creating it if new.',
  toolset: 'functions',
  beta: true,
  operations: ['createProjectBranchFunctionDeployment', 'getProjectBranchFunction'],
  input: {
    project_id: projectId,
    branch_id: onBranchId,
    slug,
    files: textMap('Path → text'),
    zip_base64: z
      .string()
      .refine((v) => v.length <= MAX_ZIP_BASE64, {
        message:
          `must be at most ${MAX_ZIP_BASE64.toLocaleString('en')} characters (a zip of about 6.7 MB): ` +
          'a larger one does not fit in one message of the stdio transport (10 MiB)',
      })
      .optional()
      .describe('zip base64'),
    env: textMap('Replaces all'),
  },
  // Also returns a `note` while the build is still running.
  output: output({ deployment: item({ id: z.number(), status: z.string() }), function: fn }),
  hints: CREATE,
  async handler({ project_id, branch_id, slug, zip_base64, ...maps }, ctx) {
    const files = maps.files as Record<string, string> | undefined;
    const env = maps.env as Record<string, string> | undefined;
    const { client, signal } = ctx;
    if (files && zip_base64 !== undefined)
      throw new InvalidArgumentError('Give files or zip_base64, not both.');
    if (!files && zip_base64 === undefined && !env) {
      throw new InvalidArgumentError('Nothing to deploy: give files (or zip_base64) and/or env.');
    }
    const zip = files ? zipFiles(files) : zip_base64 !== undefined ? fromBase64(zip_base64) : undefined;
    const form = new FormData();
    if (zip) form.append('zip', new Blob([new Uint8Array(zip)], { type: 'application/zip' }), `${slug}.zip`);
    if (env) form.append('environment', JSON.stringify(env));
    const path = { project_id, branch_id, slug };
    const res = await client.sendRaw('POST', `${functionRoute}/deployments`, {
      path,
      body: form,
      accept: 'application/json',
      signal,
    });
    const { deployment } = (await res.json()) as Schemas['NeonFunctionDeploymentResponse'];
    const { value: fn, timedOut } = await pollStatus(
      ctx,
      () => getFunction(client, path, signal),
      (f) => {
        const d = deploymentIn(f, deployment.id);
        return d !== undefined && (d.status === 'completed' || d.status === 'failed');
      },
      (f) => `deployment ${deployment.id}: ${deploymentIn(f, deployment.id)?.status ?? deployment.status}`,
    );
    const final = deploymentIn(fn, deployment.id) ?? deployment;
    if (final.status === 'failed') {
      throw new NeonError(
        `Deployment ${final.id} of function ${slug} failed to build` +
          (final.error ? `: ${final.error}` : '.') +
          ' The previous deployment (if any) stays active. Fix the code and deploy again.',
      );
    }
    return {
      deployment: final,
      function: summarize(fn),
      ...(timedOut ? { note: 'Still building; check later with get_function.' } : {}),
    };
  },
});

function deploymentIn(f: NeonFunction, id: number): Deployment | undefined {
  return [f.current_deployment, f.active_deployment].find((d) => d?.id === id);
}

function fromBase64(b64: string): Uint8Array {
  const clean = b64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) {
    throw new InvalidArgumentError('zip_base64 is not valid base64.');
  }
  const bytes = Buffer.from(clean, 'base64');
  if (bytes.length < 22 || bytes.readUInt32LE(0) !== 0x04034b50) {
    throw new InvalidArgumentError('zip_base64 is not a ZIP archive (it must start with PK\\3\\4).');
  }
  return bytes;
}

/** A ZIP archive (deflated entries) of text files, built in memory. */
export function zipFiles(files: Record<string, string>): Uint8Array {
  const entries = Object.entries(files);
  if (entries.length === 0) throw new InvalidArgumentError('files is empty.');
  let total = 0;
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of entries) {
    if (
      !name ||
      name.startsWith('/') ||
      name.split('/').some((p) => p === '..' || p === '') ||
      name.includes('\\')
    ) {
      throw new InvalidArgumentError(`files: "${name}" must be a relative path like src/index.js.`);
    }
    const data = Buffer.from(content, 'utf8');
    total += data.length;
    if (total > MAX_FILES_BYTES)
      throw new InvalidArgumentError('files: more than 5 MB; upload a ZIP instead.');
    const packed = deflateRawSync(data);
    const fileName = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(0x00210000, 10); // 1980-01-01 00:00
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fileName.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x031e, 4); // made by: Unix, 3.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(0x00210000, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fileName.length, 28);
    central.writeUInt32LE(0o100644 * 0x10000, 38); // regular file, rw-r--r--
    central.writeUInt32LE(offset, 42);
    locals.push(local, fileName, packed);
    centrals.push(central, fileName);
    offset += local.length + fileName.length + packed.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export const getAiGateway = defineTool({
  name: 'get_ai_gateway',
  title: 'Get AI gateway',
  description: "Get a branch's AI gateway URL.",
  toolset: 'functions',
  beta: true,
  operations: ['getProjectBranchAiGateway'],
  input: { project_id: projectId, branch_id: onBranchId },
  output: output({ ai_gateway: item({ enabled: z.boolean(), base_url: z.string() }) }),
  hints: READ,
  async handler({ project_id, branch_id }, { client, signal }) {
    const ai_gateway = await featureStatus<Schemas['BranchAiGateway']>(
      client,
      '/projects/{project_id}/branches/{branch_id}/ai_gateway',
      { project_id, branch_id },
      signal,
    );
    return { ai_gateway };
  },
});

export const functionTools: ToolDef[] = [
  listFunctions,
  getFunctionTool,
  deployFunction,
  renameFunction,
  deleteFunction,
  getAiGateway,
];
