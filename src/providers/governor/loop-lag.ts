// The event-loop lag monitor: the longest stall this process saw in the last moments. A stalled
// process sends its requests late, and a request that went out late constrains the grants of the
// next window, so the governor widens its margin by the recent stall (`adaptiveMargin`).
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { MAX_MARGIN_MS } from './window';

/**
 * Stalls are measured process-wide (one monitor, however many governors) and remembered for a
 * little longer than a one-second window.
 */
export class LoopLag {
  private static instance: LoopLag | undefined;
  private static readonly MEMORY_MS = 1_500;
  private readonly histogram: IntervalHistogram;
  /** The longest stall seen per 100 ms slot (performance time). */
  private readonly stalls = new Map<number, number>();

  private constructor() {
    this.histogram = monitorEventLoopDelay({ resolution: 5 });
    this.histogram.enable();
    setInterval(() => {
      // The histogram reports the delay beyond its resolution timer, in nanoseconds.
      this.sample(this.histogram.max / 1e6 - 5);
      this.histogram.reset();
    }, 200).unref();
  }

  static shared(): LoopLag {
    LoopLag.instance ??= new LoopLag();
    return LoopLag.instance;
  }

  /** The longest recent stall (ms), at most `MAX_MARGIN_MS`. */
  get recentMs(): number {
    const oldest = Math.floor((performance.now() - LoopLag.MEMORY_MS) / 100);
    let longest = 0;
    for (const [slot, stallMs] of this.stalls) {
      if (slot < oldest) this.stalls.delete(slot);
      else longest = Math.max(longest, stallMs);
    }
    return Math.min(MAX_MARGIN_MS, Math.round(longest));
  }

  /** Records a stall: the monitor's, or how late a caller woke up for its slot. */
  sample(stallMs: number): void {
    if (stallMs < 1) return;
    // The longest stall per 100 ms keeps the memory small whatever the rate of samples.
    const slot = Math.floor(performance.now() / 100);
    this.stalls.set(slot, Math.max(this.stalls.get(slot) ?? 0, stallMs));
  }
}
