/**
 * Per-key state under --http. A tenant is whoever holds one Neon API key, known here by the key's
 * hash. Everything that caller keeps between requests hangs off its one tenant object, made here and
 * passed down as the `tenant` of every client made for that key: its rate limiter (Neon's limits are
 * per account, and one caller must not spend another's budget), its caches of connection details and
 * completion lists (`caches`, read by neon/resolver.ts and mcp/surface.ts through the client), and
 * the tag of its SQL pools (`id`, sql/pools.ts). No module-level table holds a caller's data, so
 * no cache can forget to key by caller; forgetting the tenant forgets all of it. The key itself is not
 * kept: each request brings it.
 *
 * Bounded: anyone can send a bearer string, so the number of tenants remembered is capped (least
 * recently used forgotten first) besides the idle expiry. A tenant with a request in flight, or a call
 * waiting in its limiter, is never forgotten: its request would otherwise finish on state no longer
 * counted, and the next request of that key would get a fresh limiter mid-minute.
 */
import { createHash } from 'node:crypto';
import type { Tenant } from '../client/neon-client.js';
import { RateLimiter, type RateLimits } from '../client/rate-limiter.js';
import { type CallerCaches, newCallerCaches } from '../neon/context.js';

/** A tenant unused for this long is forgotten (its limiter's windows are long over by then). */
export const TENANT_IDLE_MS = 15 * 60_000;
/** Tenants remembered at most by default (about 1 KB each before their caches fill). */
export const MAX_TENANTS = 1_000;

export interface TenantState extends Tenant {
  readonly limiter: RateLimiter;
  readonly caches: CallerCaches;
  lastUsed: number;
  /** Requests of this key being answered now (serve.ts counts them). */
  inFlight: number;
}

export class Tenants {
  /** In order of last use, the least recent first (a Map keeps insertion order). */
  private readonly byId = new Map<string, TenantState>();
  private sweptAt = 0;

  constructor(
    private readonly limits: RateLimits,
    private readonly now: () => number = Date.now,
    /** Tenants remembered at most; more are let in only while older ones are busy. */
    readonly max: number = MAX_TENANTS,
  ) {}

  /** The tenant of a key, created on first use; it becomes the most recently used. */
  get(apiKey: string): TenantState {
    const id = idOf(apiKey);
    const t = this.now();
    this.sweep(t);
    let tenant = this.byId.get(id);
    if (tenant) this.byId.delete(id);
    else
      tenant = {
        id,
        limiter: new RateLimiter(this.limits, this.now),
        caches: newCallerCaches(),
        lastUsed: t,
        inFlight: 0,
      };
    tenant.lastUsed = t;
    this.byId.set(id, tenant);
    this.evict(tenant);
    return tenant;
  }

  /**
   * The tenant of a key for the length of one request: counted in flight until `release` is called
   * (once; later calls do nothing), so that the cap never forgets it meanwhile.
   */
  acquire(apiKey: string): { tenant: TenantState; release(): void } {
    const tenant = this.get(apiKey);
    tenant.inFlight++;
    let released = false;
    return {
      tenant,
      release: () => {
        if (released) return;
        released = true;
        tenant.inFlight--;
        this.evict();
      },
    };
  }

  /** The tenant of a key if remembered, without counting it as used (for tests and diagnostics). */
  peek(apiKey: string): TenantState | undefined {
    return this.byId.get(idOf(apiKey));
  }

  /** The limiter of the server's own key (single-tenant). */
  ownLimiter(): RateLimiter {
    return new RateLimiter(this.limits, this.now);
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * Over the cap, forgets the least recently used tenants that are idle; busy ones stay, and so does
   * `keep`, the one being handed out (not yet counted in flight).
   */
  private evict(keep?: TenantState): void {
    if (this.byId.size <= this.max) return;
    for (const [id, tenant] of this.byId) {
      if (this.byId.size <= this.max) return;
      if (tenant !== keep && !busy(tenant)) this.byId.delete(id);
    }
  }

  /** Drops idle tenants: their caches go with them (they hang off the tenant object). */
  private sweep(t: number): void {
    if (t - this.sweptAt < 60_000) return;
    this.sweptAt = t;
    for (const [id, tenant] of this.byId)
      if (t - tenant.lastUsed > TENANT_IDLE_MS && !busy(tenant)) this.byId.delete(id);
  }
}

function busy(tenant: TenantState): boolean {
  return tenant.inFlight > 0 || tenant.limiter.waiting > 0;
}

function idOf(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex');
}
