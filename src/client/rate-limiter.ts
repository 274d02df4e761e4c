/**
 * Client-side rate limiting in Neon's terms: at most `perMinute` requests in any 60 s window overall,
 * and at most `perSecondPerRoute` requests in any 1 s window for one route (method + path template).
 * Callers wait in FIFO order; a caller whose route is saturated does not hold up other routes.
 */

export interface RateLimits {
  /** Requests allowed in any sliding 60 s window. Neon documents 700. */
  perMinute: number;
  /** Requests allowed per route in any sliding 1 s window. Neon documents 40. */
  perSecondPerRoute: number;
}

export const NEON_RATE_LIMITS: RateLimits = { perMinute: 700, perSecondPerRoute: 40 };

interface Waiter {
  route: string;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export class RateLimiter {
  private readonly global: number[] = [];
  private readonly routes = new Map<string, number[]>();
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;

  constructor(
    private readonly limits: RateLimits = NEON_RATE_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolves when a request on `route` may be sent; rejects with the signal's reason when aborted. */
  acquire(route: string, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    // Waiters of the same route go first (FIFO per route); other routes are not held up.
    if (!this.queue.some((w) => w.route === route) && this.tryTake(route)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { route, resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.schedule();
    });
  }

  /** Number of callers currently waiting. */
  get waiting(): number {
    return this.queue.length;
  }

  private tryTake(route: string): boolean {
    const t = this.now();
    prune(this.global, t - 60_000);
    if (this.global.length >= this.limits.perMinute) return false;
    let stamps = this.routes.get(route);
    if (!stamps) {
      stamps = [];
      this.routes.set(route, stamps);
    }
    prune(stamps, t - 1_000);
    if (stamps.length >= this.limits.perSecondPerRoute) return false;
    this.global.push(t);
    stamps.push(t);
    return true;
  }

  private pump(): void {
    this.timer = undefined;
    for (let i = 0; i < this.queue.length; ) {
      const w = this.queue[i];
      if (this.tryTake(w.route)) {
        this.queue.splice(i, 1);
        if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
        w.resolve();
      } else if (this.global.length >= this.limits.perMinute) {
        break;
      } else {
        i++;
      }
    }
    this.schedule();
  }

  /** Wakes up when the earliest blocking window frees a slot. */
  private schedule(): void {
    if (this.queue.length === 0) return;
    const t = this.now();
    let wake = Number.POSITIVE_INFINITY;
    if (this.global.length >= this.limits.perMinute) wake = this.global[0] + 60_000;
    else {
      for (const w of this.queue) {
        const stamps = this.routes.get(w.route) ?? [];
        wake = Math.min(wake, stamps.length >= this.limits.perSecondPerRoute ? stamps[0] + 1_000 : t);
      }
    }
    if (this.timer) {
      if (this.timerAt <= wake) return;
      clearTimeout(this.timer);
    }
    this.timerAt = wake;
    this.timer = setTimeout(() => this.pump(), Math.max(0, wake - t) + 1);
    // A pending wake-up must not keep the process alive on its own.
    this.timer.unref?.();
  }
}

function prune(stamps: number[], before: number): void {
  let n = 0;
  while (n < stamps.length && stamps[n] <= before) n++;
  if (n > 0) stamps.splice(0, n);
}
