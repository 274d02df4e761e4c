/**
 * The local stand-in for Neon's API (src/local/api/http.ts) listens on loopback only: its port answers
 * whoever holds the key, and the key never leaves this process, but no other machine should even
 * reach the port. Probed from outside the loopback address it was bound to: another loopback address
 * (127.0.0.2 reaches a socket bound to every address on Linux, not one bound to 127.0.0.1) and every
 * address of this machine's other interfaces.
 */
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, expect, it } from 'vitest';
import { type LocalApiServer, type LocalNeon, serveLocalApi } from '../src/local/api/index.js';

const KEY = 'local-bind-test-key-0123456789';
let served: LocalApiServer | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

/** Whether a TCP connection to host:port is accepted (false: refused or unreachable within 2 s). */
function reaches(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Addresses of this machine that are not the one the API was bound to. */
function otherAddresses(): string[] {
  const out = process.platform === 'linux' ? ['127.0.0.2'] : [];
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (!a.internal && !a.address.startsWith('fe80:')) out.push(a.address);
  return out;
}

it('the local API listens on 127.0.0.1 only: not on another loopback address, nor on any interface', async () => {
  // Nothing is asked of the API itself: the probes only connect.
  served = await serveLocalApi({} as LocalNeon, KEY);
  const { hostname, port: portText } = new URL(served.baseUrl);
  expect(hostname).toBe('127.0.0.1');
  const port = Number(portText);
  // The probe works: where it was bound, it is reached.
  expect(await reaches('127.0.0.1', port)).toBe(true);
  const others = otherAddresses();
  // On Linux there is always 127.0.0.2 to probe, so the test cannot pass for want of addresses.
  if (process.platform === 'linux') expect(others.length).toBeGreaterThan(0);
  const reached = [];
  for (const host of others) if (await reaches(host, port)) reached.push(host);
  expect(reached).toEqual([]);
});

it('without the key, or with another, the answer is a 401 in JSON saying so, and the API is not asked', async () => {
  let asked = 0;
  served = await serveLocalApi(
    {
      handle: async () => {
        asked++;
        return [200, {}];
      },
    } as unknown as LocalNeon,
    KEY,
  );
  for (const headers of [
    {} as Record<string, string>,
    { authorization: 'Bearer nope' },
    { authorization: `Bearer ${KEY}x` },
  ]) {
    const res = await fetch(`${served.baseUrl}/projects`, { headers });
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'local mode API: wrong or missing key',
    });
  }
  expect(asked).toBe(0);
  expect(
    (await fetch(`${served.baseUrl}/projects`, { headers: { authorization: `Bearer ${KEY}` } })).status,
  ).toBe(200);
  expect(asked).toBe(1);
});
