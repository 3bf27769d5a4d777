// Group commit: within one instance the takes of an account are served together. While a table
// round trip is in flight the next callers queue, and the next round trip decides for all of them,
// so concurrency inside a host costs no conflicts.

/** Serves one batch: a result per request, in order. */
export type ServeBatch<Request, Result> = (batch: Request[]) => Promise<Result[]>;

interface Queued<Request, Result> {
  request: Request;
  resolve: (result: Result) => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<Request, Result> {
  private readonly queues = new Map<string, Queued<Request, Result>[]>();
  private readonly pumping = new Set<string>();

  /**
   * Queues `request` under `key` (an account) and answers its result. When no round trip of that
   * key is running, this caller's `serve` starts one, and keeps serving what queued meanwhile.
   */
  submit(key: string, request: Request, serve: ServeBatch<Request, Result>): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      const queue = this.queues.get(key) ?? [];
      queue.push({ request, resolve, reject });
      this.queues.set(key, queue);
      if (!this.pumping.has(key)) void this.pump(key, serve);
    });
  }

  private async pump(key: string, serve: ServeBatch<Request, Result>): Promise<void> {
    this.pumping.add(key);
    try {
      for (let batch = this.queues.get(key); batch !== undefined && batch.length > 0; batch = this.queues.get(key)) {
        this.queues.delete(key);
        try {
          const results = await serve(batch.map((queued) => queued.request));
          batch.forEach((queued, i) => queued.resolve(results[i]!));
        } catch (error) {
          for (const queued of batch) queued.reject(error);
        }
      }
    } finally {
      this.pumping.delete(key);
    }
  }
}
