/**
 * Per-key state under --http. A tenant is whoever holds one Neon API key, known here by the key's
 * hash: it has its own rate limiter (Neon's limits are per account, and one caller must not spend
 * another's budget), and it is the `tenant` of every client made for that key, which keys the
 * caches of connection details and completions and the SQL pools (neon/connection.ts,
 * mcp/surface.ts, sql/connections.ts). The key itself is not kept: each request brings it.
 */
import { createHash } from 'node:crypto';
import type { Tenant } from '../client/neon-client.js';
import { RateLimiter, type RateLimits } from '../client/rate-limiter.js';

/** A tenant unused for this long is forgotten (its limiter's windows are long over by then). */
export const TENANT_IDLE_MS = 15 * 60_000;

export interface TenantState extends Tenant {
  readonly limiter: RateLimiter;
  lastUsed: number;
}

export class Tenants {
  private readonly byId = new Map<string, TenantState>();
  private sweptAt = 0;

  constructor(
    private readonly limits: RateLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** The tenant of a key, created on first use. */
  get(apiKey: string): TenantState {
    const id = createHash('sha256').update(apiKey).digest('hex');
    const t = this.now();
    this.sweep(t);
    let tenant = this.byId.get(id);
    if (!tenant) {
      tenant = { id, limiter: new RateLimiter(this.limits, this.now), lastUsed: t };
      this.byId.set(id, tenant);
    }
    tenant.lastUsed = t;
    return tenant;
  }

  /** The limiter of the server's own key (single-tenant). */
  ownLimiter(): RateLimiter {
    return new RateLimiter(this.limits, this.now);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Drops idle tenants: their caches go with them (keyed weakly by the tenant object). */
  private sweep(t: number): void {
    if (t - this.sweptAt < 60_000) return;
    this.sweptAt = t;
    for (const [id, tenant] of this.byId)
      if (t - tenant.lastUsed > TENANT_IDLE_MS && tenant.limiter.waiting === 0) this.byId.delete(id);
  }
}
