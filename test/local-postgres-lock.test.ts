/**
 * `--local --local-postgres URL` from several processes at once: they share no DIR (whose start lock
 * serialises the embedded server's starts), so local mode's setup on the server (the catalog's database
 * and grants, the first project) runs under a PostgreSQL advisory lock. Without it, concurrent GRANTs on
 * one database failed with "tuple concurrently updated", or each made its own project "local". A
 * setup held too long by another process fails with one line naming it, instead of waiting forever.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NeonClient } from '../src/client/neon-client.js';
import { type LocalMode, SETUP_LOCK, startLocal } from '../src/local/index.js';
import { startPostgres, type TestPostgres } from './pg/server.js';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

describe('local mode on one --local-postgres server from several processes', () => {
  it('three starts at once share one catalog and one project "local"', async () => {
    const modes: LocalMode[] = await Promise.all(
      [0, 1, 2].map(() => startLocal({ postgresUrl: server.uri('postgres') })),
    );
    try {
      for (const m of modes) {
        const client = new NeonClient({ apiKey: m.apiKey, baseUrl: m.baseUrl });
        const { projects } = await client.get('/projects', {});
        expect(projects.map((p) => p.name)).toEqual(['local']);
      }
    } finally {
      for (const m of modes) await m.stop();
    }
  }, 120_000);

  it('a setup held by another process past the wait fails with one line naming it', async () => {
    const holder = new pg.Client({ connectionString: server.uri('postgres') });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [SETUP_LOCK]);
      const started = Date.now();
      const error = await startLocal({ postgresUrl: server.uri('postgres'), setupWaitMs: 1_000 }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(error?.message).toMatch(
        /^another neon-mcp process has been setting up local mode on postgresql:\/\/.* for 1 s \(advisory lock \d+\); if it is stuck, stop it and start again\.$/,
      );
      expect(error?.message).not.toContain(':test-superuser-pw@');
    } finally {
      await holder.end();
    }
  }, 60_000);
});
