/** Branch features that Neon reports as unavailable with a 404 and a reason (storage, AI gateway). */
import { NeonApiError } from '../client/errors.js';
import { buildPath, type NeonClient, type PathParams, type Route } from '../client/neon-client.js';

/**
 * A branch feature status (storage, AI gateway): Neon answers 404 with a `reason` when the feature is
 * unavailable, which is an answer, not a failure. Other 404s (unknown branch) still throw.
 */
export async function featureStatus<T, R extends Route = Route>(
  client: NeonClient,
  route: R,
  path: PathParams<R>,
  signal: AbortSignal,
): Promise<T | { enabled: false; reason: string; message?: string }> {
  const res = await client.sendRaw('GET', route, { path, accept: 'application/json', signal, pass: [404] });
  const body = (await res.json().catch(() => ({}))) as Record<string, string>;
  if (res.ok) return body as T;
  if (body.reason && body.reason !== 'branch_not_found') {
    return { enabled: false, reason: body.reason, message: body.message };
  }
  throw new NeonApiError({
    method: 'GET',
    route,
    path: buildPath(route, path),
    status: 404,
    code: body.code,
    neonMessage: body.message,
    attempts: 1,
  });
}
