export interface RecordedRequest {
  seq: number;
  method: string;
  path: string;
  query: string;
  /** The route's name (`POST /api/lists/subscribe`), null when no route matched. */
  route: string | null;
  /** 0 when the connection was reset without an answer. */
  status: number;
  keyId: string | null;
  /** Epoch ms. */
  startedAt: number;
  durationMs: number;
  outcome?: 'reset' | 'lost-response';
  requestBody?: unknown;
  responseBody?: unknown;
  /** With `recordBodies`: content-type and version headers; never credentials. */
  headers?: Record<string, string>;
}

export interface RequestCounts {
  total: number;
  status2xx: number;
  /** 4xx other than 429. */
  status4xx: number;
  status429: number;
  status5xx: number;
  resets: number;
  byStatus: Record<string, number>;
  byRoute: Record<string, number>;
}

function emptyCounts(): RequestCounts {
  return { total: 0, status2xx: 0, status4xx: 0, status429: 0, status5xx: 0, resets: 0, byStatus: {}, byRoute: {} };
}

/** Counters of every request, and the most recent requests in a ring of bounded size. */
export class RequestLog {
  private ring: RecordedRequest[] = [];
  private next = 0;
  private seq = 0;
  counts: RequestCounts = emptyCounts();

  constructor(private readonly size: number) {}

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  record(entry: RecordedRequest): void {
    const counts = this.counts;
    counts.total += 1;
    const status = entry.status;
    if (status === 0) counts.resets += 1;
    else if (status === 429) counts.status429 += 1;
    else if (status >= 500) counts.status5xx += 1;
    else if (status >= 400) counts.status4xx += 1;
    else if (status >= 200 && status < 300) counts.status2xx += 1;
    const statusKey = String(status);
    counts.byStatus[statusKey] = (counts.byStatus[statusKey] ?? 0) + 1;
    const routeKey = entry.route ?? `${entry.method} (no route)`;
    counts.byRoute[routeKey] = (counts.byRoute[routeKey] ?? 0) + 1;
    if (this.size === 0) return;
    if (this.ring.length < this.size) this.ring.push(entry);
    else this.ring[this.next] = entry;
    this.next = (this.next + 1) % this.size;
  }

  /** The recent requests, oldest first. */
  entries(): RecordedRequest[] {
    if (this.ring.length < this.size) return [...this.ring];
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
  }

  reset(): void {
    this.ring = [];
    this.next = 0;
    this.counts = emptyCounts();
  }
}
