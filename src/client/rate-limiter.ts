/**
 * Client-side rate limiting in Neon's terms: at most `perMinute` requests in any 60 s window overall,
 * and at most `perSecondPerRoute` requests in any 1 s window for one route (method + path template).
 * Callers wait in FIFO order per route; a caller whose route is saturated does not hold up others.
 *
 * Neon counts a request when it arrives; the client only knows when it sent it and when the answer
 * came back. A slot therefore counts from the moment it is granted until the answer arrives, and its
 * window is then measured from the answer: whatever the network latency, no two requests that Neon
 * sees can be closer than the client allowed.
 */
import { emitEvent } from './events.js';

export interface RateLimits {
  /** Requests allowed in any sliding 60 s window. Neon documents 700. */
  perMinute: number;
  /** Requests allowed per route in any sliding 1 s window. Neon documents 40. */
  perSecondPerRoute: number;
}

export const NEON_RATE_LIMITS: RateLimits = { perMinute: 700, perSecondPerRoute: 40 };

/**
 * A caller still queued after this long is reported (events.ts: a log message and a progress
 * notification of its MCP call), then again at this interval, so a client that resets its timeout on
 * progress keeps waiting for it.
 */
export const QUEUE_NOTICE_MS = 1_000;

/** Gives a slot back to the window accounting: it now counts from this moment. */
export type Release = () => void;

/** One granted request: `t` is when it was granted, then when its answer arrived. */
interface Slot {
  t: number;
  /** Still waiting for its answer: it counts in every window until then. */
  open: boolean;
}

/** An answer that never came is given up on after this long (a request times out well before). */
const OPEN_SLOT_LIMIT_MS = 300_000;

interface Waiter {
  route: string;
  resolve: (release: Release) => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
  /** Reports a long wait (see QUEUE_NOTICE_MS). */
  notice?: NodeJS.Timeout;
}

export class RateLimiter {
  private readonly global: Slot[] = [];
  private readonly routes = new Map<string, Slot[]>();
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;

  constructor(
    private readonly limits: RateLimits = NEON_RATE_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Resolves when a request on `route` may be sent, with a function to call when its answer arrives;
   * rejects with the signal's reason when aborted.
   */
  acquire(route: string, signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    // Waiters of the same route go first (FIFO per route); other routes are not held up.
    if (!this.queue.some((w) => w.route === route)) {
      const release = this.tryTake(route);
      if (release) return Promise.resolve(release);
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = { route, resolve, reject, signal };
      const since = this.now();
      // Created here, the interval runs in the caller's async context: the event reaches its call.
      waiter.notice = setInterval(() => {
        const waited = Math.round((this.now() - since) / 1000);
        emitEvent({
          level: 'info',
          kind: 'queued',
          message: `Queued by the client's rate limiter for ${waited} s (${route}; ${this.queue.length} waiting): Neon allows ${this.limits.perMinute} requests a minute and ${this.limits.perSecondPerRoute} a second per route.`,
        });
      }, QUEUE_NOTICE_MS);
      waiter.notice.unref?.();
      if (signal) {
        waiter.onAbort = () => {
          clearInterval(waiter.notice);
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

  private slotsOf(route: string): Slot[] {
    let slots = this.routes.get(route);
    if (!slots) {
      slots = [];
      this.routes.set(route, slots);
    }
    return slots;
  }

  private tryTake(route: string): Release | undefined {
    const t = this.now();
    prune(this.global, t - 60_000, t);
    if (this.global.length >= this.limits.perMinute) return undefined;
    const slots = this.slotsOf(route);
    prune(slots, t - 1_000, t);
    if (slots.length >= this.limits.perSecondPerRoute) return undefined;
    const slot: Slot = { t, open: true };
    this.global.push(slot);
    slots.push(slot);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      slot.open = false;
      slot.t = Math.max(slot.t, this.now());
      // A full window may now have a known end: wake up for it.
      this.schedule();
    };
  }

  private pump(): void {
    this.timer = undefined;
    for (let i = 0; i < this.queue.length; ) {
      const w = this.queue[i];
      const release = this.tryTake(w.route);
      if (release) {
        this.queue.splice(i, 1);
        clearInterval(w.notice);
        if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
        w.resolve(release);
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
    if (this.global.length >= this.limits.perMinute) wake = firstLeaves(this.global, 60_000);
    else {
      for (const w of this.queue) {
        const slots = this.slotsOf(w.route);
        wake = Math.min(wake, slots.length >= this.limits.perSecondPerRoute ? firstLeaves(slots, 1_000) : t);
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

/** Drops answered slots that left the window (they may be out of order, so all are checked). */
function prune(slots: Slot[], before: number, now: number): void {
  let kept = 0;
  for (const slot of slots) {
    if (slot.t > before || (slot.open && slot.t > now - OPEN_SLOT_LIMIT_MS)) slots[kept++] = slot;
  }
  slots.length = kept;
}

/**
 * When the first slot of a full window of `windowMs` leaves it: an answered slot `windowMs` after its
 * answer, an open one when it is given up on (as `prune` drops them). The open-slot time used to be
 * `t + OPEN_SLOT_LIMIT_MS - 1_000` plus the window, which is right for the per-second window only: a
 * minute window full of unanswered slots woke up 59 s after they had been dropped.
 */
function firstLeaves(slots: Slot[], windowMs: number): number {
  let min = Number.POSITIVE_INFINITY;
  for (const slot of slots) min = Math.min(min, slot.open ? slot.t + OPEN_SLOT_LIMIT_MS : slot.t + windowMs);
  return min;
}
