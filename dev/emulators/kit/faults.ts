import { z } from 'zod';
import { seededRandom } from './random';

const share = z.number().min(0).max(1);

/** What `setFaults` and `PUT /_emulator/faults` take; every field optional, merged into the current faults. */
export const faultSettingsInputSchema = z.strictObject({
  serverErrorShare: share.optional(),
  serverErrorStatus: z.union([z.literal(500), z.literal(503), z.literal('mixed')]).optional(),
  slowShare: share.optional(),
  slowDelayMs: z.number().int().min(0).optional(),
  resetShare: share.optional(),
  lostResponseShare: share.optional(),
  throttleForMs: z.number().int().min(0).optional(),
  nextServerErrors: z.number().int().min(0).optional(),
  nextLostResponses: z.number().int().min(0).optional(),
  nextLateAnswers: z.number().int().min(0).optional(),
  lateAnswerMs: z.number().int().min(0).optional(),
  asyncFailureShare: share.optional(),
  pathPrefix: z.string().nullable().optional(),
});
export type FaultSettingsInput = z.infer<typeof faultSettingsInputSchema>;

export interface FaultSettings {
  serverErrorShare: number;
  serverErrorStatus: 500 | 503 | 'mixed';
  slowShare: number;
  slowDelayMs: number;
  resetShare: number;
  lostResponseShare: number;
  /** Epoch ms until which every request is answered 429, or null. */
  throttledUntil: number | null;
  nextServerErrors: number;
  /** The next N requests are handled, then their connection is destroyed without an answer (counts down). */
  nextLostResponses: number;
  /** The next N requests are handled at once (state changes) and answered `lateAnswerMs` later: a client timeout. */
  nextLateAnswers: number;
  lateAnswerMs: number;
  asyncFailureShare: number;
  pathPrefix: string | null;
}

const NO_FAULTS: FaultSettings = {
  serverErrorShare: 0,
  serverErrorStatus: 'mixed',
  slowShare: 0,
  slowDelayMs: 0,
  resetShare: 0,
  lostResponseShare: 0,
  throttledUntil: null,
  nextServerErrors: 0,
  nextLostResponses: 0,
  nextLateAnswers: 0,
  lateAnswerMs: 0,
  asyncFailureShare: 0,
  pathPrefix: null,
};

/** What happens to one request; `NONE` on the hot path when no fault is set. */
export interface FaultDecision {
  reset: boolean;
  delayMs: number;
  /** Remaining 429 burst in ms, 0 for none. */
  throttleMs: number;
  serverError: 500 | 503 | null;
  loseResponse: boolean;
  /** Answer this long after handling (0: at once). */
  lateMs: number;
}

const NONE: FaultDecision = { reset: false, delayMs: 0, throttleMs: 0, serverError: null, loseResponse: false, lateMs: 0 };

export class FaultInjector {
  private current: FaultSettings = { ...NO_FAULTS };
  private readonly random: () => number;

  constructor(seed: number, initial?: FaultSettingsInput) {
    this.random = seededRandom(seed);
    if (initial) this.set(initial);
  }

  get settings(): Readonly<FaultSettings> {
    return this.current;
  }

  set(input: FaultSettingsInput): FaultSettings {
    const parsed = faultSettingsInputSchema.parse(input);
    const { throttleForMs, ...rest } = parsed;
    const next: FaultSettings = { ...this.current };
    for (const [field, value] of Object.entries(rest)) {
      if (value !== undefined) Object.assign(next, { [field]: value });
    }
    if (parsed.slowDelayMs !== undefined && parsed.slowShare === undefined && next.slowShare === 0) next.slowShare = 1;
    if (throttleForMs !== undefined) next.throttledUntil = throttleForMs > 0 ? Date.now() + throttleForMs : null;
    this.current = next;
    return next;
  }

  clear(): void {
    this.current = { ...NO_FAULTS };
  }

  private hit(probability: number): boolean {
    return probability > 0 && (probability >= 1 || this.random() < probability);
  }

  decide(path: string): FaultDecision {
    const f = this.current;
    const active =
      f.serverErrorShare > 0 ||
      f.slowShare > 0 ||
      f.resetShare > 0 ||
      f.lostResponseShare > 0 ||
      f.throttledUntil !== null ||
      f.nextServerErrors > 0 ||
      f.nextLostResponses > 0 ||
      f.nextLateAnswers > 0;
    if (!active || (f.pathPrefix !== null && !path.startsWith(f.pathPrefix))) return NONE;
    let throttleMs = 0;
    if (f.throttledUntil !== null) {
      throttleMs = Math.max(0, f.throttledUntil - Date.now());
      if (throttleMs === 0) f.throttledUntil = null;
    }
    let serverError: 500 | 503 | null = null;
    if (f.nextServerErrors > 0) {
      f.nextServerErrors -= 1;
      serverError = this.pickStatus();
    } else if (this.hit(f.serverErrorShare)) {
      serverError = this.pickStatus();
    }
    let lateMs = 0;
    if (serverError === null && throttleMs === 0 && f.nextLateAnswers > 0) {
      f.nextLateAnswers -= 1;
      lateMs = f.lateAnswerMs;
    }
    let loseResponse = false;
    if (serverError === null && throttleMs === 0 && f.nextLostResponses > 0) {
      f.nextLostResponses -= 1;
      loseResponse = true;
    }
    return {
      reset: this.hit(f.resetShare),
      delayMs: this.hit(f.slowShare) ? f.slowDelayMs : 0,
      throttleMs,
      serverError,
      loseResponse: loseResponse || this.hit(f.lostResponseShare),
      lateMs,
    };
  }

  private pickStatus(): 500 | 503 {
    const status = this.current.serverErrorStatus;
    if (status !== 'mixed') return status;
    return this.random() < 0.5 ? 500 : 503;
  }

  /** Whether an asynchronous job (Brevo import, Omnisend batch) ends in failure. */
  asyncFails(): boolean {
    return this.hit(this.current.asyncFailureShare);
  }
}
