import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { FaultInjector, faultSettingsInputSchema, type FaultSettingsInput } from './faults';
import { KeyRing } from './keys';
import { RateLimiter, type BucketDefinition } from './rate-limits';
import { RequestLog, type RecordedRequest } from './request-log';

/** What a route answers: a JSON `body`, or raw `text` with its `contentType`. */
export interface Reply {
  status: number;
  body?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface RequestContext {
  params: string[];
  query: URLSearchParams;
  /** The parsed JSON body (undefined for routes without one). */
  body: unknown;
  /** null on public routes. */
  keyId: string | null;
  headers: IncomingHttpHeaders;
}

export interface Route {
  method: string;
  /** A path with `{name}` placeholders, each matching one segment: `/api/lists/{listId}`. */
  path: string;
  /** Rate buckets the route draws from (none: not limited). */
  buckets?: readonly string[];
  hasBody?: boolean;
  maxBodyBytes?: number;
  /** No key needed, no rate limit, no faults (files the provider hands out by URL). */
  public?: boolean;
  handle(context: RequestContext): Reply | Promise<Reply>;
}

/** How a provider speaks: where its key is, and the shape of its standard errors. */
export interface ProviderProtocol {
  readCredential(headers: IncomingHttpHeaders): string | undefined;
  /** Header checks before authentication (Omnisend's version header). */
  precheck?(headers: IncomingHttpHeaders): Reply | undefined;
  unauthorized(): Reply;
  notFound(): Reply;
  rateLimited(retryAfterMs: number): Reply;
  serverError(status: 500 | 503): Reply;
  badJson(message: string): Reply;
  unsupportedMediaType(): Reply;
  tooLarge(limitBytes: number): Reply;
  /** Headers describing a bucket's state (Brevo `x-sib-ratelimit-*`). */
  rateHeaders?(status: { limit: number; remaining: number; resetInMs: number }): Record<string, string>;
  /** The scope a key's requests are limited in: the key itself, or the whole account. */
  rateScope(keyId: string): string;
}

export interface ServerOptions {
  host: string;
  port: number;
  apiKeys: readonly string[];
  buckets: BucketDefinition[];
  rateScale: number;
  unthrottled: boolean;
  maxRateHistory: number;
  requestLogSize: number;
  recordBodies: boolean;
  strictContract: boolean;
  faults?: FaultSettingsInput;
  seed: number;
  /** Body limit of routes that do not set their own. */
  defaultMaxBodyBytes: number;
}

export interface Inspection {
  summary(): unknown;
  reset(): void;
}

interface CompiledRoute {
  route: Route;
  name: string;
  pattern: RegExp;
}

type BodyResult = { kind: 'ok'; text: string } | { kind: 'tooLarge' } | { kind: 'aborted' };

const JSON_TYPE = 'application/json; charset=utf-8';
const RECORDED_HEADERS = ['content-type', 'omnisend-version'] as const;

function readBody(request: IncomingMessage, limitBytes: number): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    let ended = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Keep draining a body that is too large so that the answer reaches the client.
      if (size > limitBytes) {
        tooLarge = true;
        chunks.length = 0;
      } else if (!tooLarge) {
        chunks.push(chunk);
      }
    });
    request.on('end', () => {
      ended = true;
      resolve(tooLarge ? { kind: 'tooLarge' } : { kind: 'ok', text: Buffer.concat(chunks, size).toString('utf8') });
    });
    request.on('close', () => {
      if (!ended) resolve({ kind: 'aborted' });
    });
    request.on('error', reject);
  });
}

function compile(route: Route): CompiledRoute {
  const source = route.path
    .split('/')
    .map((segment) => (segment.startsWith('{') ? '([^/]+)' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return { route, name: `${route.method} ${route.path}`, pattern: new RegExp(`^${source}$`) };
}

function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const type = value.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

const keyBodySchema = z.strictObject({ key: z.string().min(1) });
const SECRET_PARAM = /key|token|secret|password|signature/i;

/** The query string as recorded: a credential sent in the URL (`?api_key=`) never reaches the log. */
function recordedQuery(query: string): string {
  if (query.length === 0 || !SECRET_PARAM.test(query)) return query;
  const params = new URLSearchParams(query);
  for (const name of [...params.keys()]) if (SECRET_PARAM.test(name)) params.set(name, '[redacted]');
  return params.toString();
}

/**
 * One emulated provider on one loopback port: routing, authentication, rate limits, faults,
 * bounded request recording and the `/_emulator/*` inspection endpoints. Providers bring their
 * routes and their `ProviderProtocol`.
 */
export class EmulatorServer {
  readonly keys: KeyRing;
  readonly log: RequestLog;
  readonly faults: FaultInjector;
  readonly rates: RateLimiter;
  private readonly server: Server;
  private readonly routes: CompiledRoute[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pending = new Set<Promise<unknown>>();
  private idleWaiters: Array<() => void> = [];
  private readonly closing = new AbortController();
  private address: AddressInfo | undefined;

  constructor(
    private readonly options: ServerOptions,
    private readonly protocol: ProviderProtocol,
    routes: readonly Route[],
    private readonly inspection: Inspection,
  ) {
    this.keys = new KeyRing(options.apiKeys);
    this.log = new RequestLog(options.requestLogSize);
    this.faults = new FaultInjector(options.seed, options.faults);
    this.rates = new RateLimiter({
      buckets: options.buckets,
      rateScale: options.rateScale,
      unthrottled: options.unthrottled,
      maxHistory: options.maxRateHistory,
      now: () => performance.now(),
      keyIndex: (keyId) => KeyRing.indexOf(keyId),
    });
    this.routes = routes.map(compile);
    this.server = createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => this.fail(response, error));
    });
    // Longer than clients' idle timeouts, so that the client, not the server, closes idle sockets.
    this.server.keepAliveTimeout = 60_000;
  }

  get origin(): string {
    if (!this.address) throw new Error('The emulator is not listening');
    return `http://${this.options.host}:${this.address.port}`;
  }

  get port(): number {
    if (!this.address) throw new Error('The emulator is not listening');
    return this.address.port;
  }

  get strictContract(): boolean {
    return this.options.strictContract;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        this.address = this.server.address() as AddressInfo;
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.closing.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    this.notifyIfIdle();
  }

  /** Runs `work` after `delayMs`; `settled()` waits for it; `close()` cancels it. */
  schedule(delayMs: number, work: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      try {
        work();
      } finally {
        this.notifyIfIdle();
      }
    }, delayMs);
    this.timers.add(timer);
  }

  /** Keeps `settled()` waiting until `promise` ends. */
  track(promise: Promise<unknown>): void {
    const tracked = promise.finally(() => {
      this.pending.delete(tracked);
      this.notifyIfIdle();
    });
    this.pending.add(tracked);
  }

  get abortSignal(): AbortSignal {
    return this.closing.signal;
  }

  /** Resolves when no scheduled work or tracked promise is left. */
  settled(): Promise<void> {
    if (this.timers.size === 0 && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private notifyIfIdle(): void {
    if (this.timers.size > 0 || this.pending.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private match(method: string, path: string): { compiled: CompiledRoute; params: string[] } | undefined {
    for (const compiled of this.routes) {
      if (compiled.route.method !== method) continue;
      const found = compiled.pattern.exec(path);
      if (found) return { compiled, params: found.slice(1).map((param) => decodeURIComponent(param)) };
    }
    return undefined;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const startedAt = Date.now();
    const startedAtMs = performance.now();
    const method = request.method ?? 'GET';
    const rawUrl = request.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const path = queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt);
    const query = queryAt < 0 ? '' : rawUrl.slice(queryAt + 1);

    if (path.startsWith('/_emulator/')) {
      await this.inspect(method, path, new URLSearchParams(query), request, response);
      return;
    }

    const entry: RecordedRequest = {
      seq: this.log.nextSeq(),
      method,
      path,
      query: recordedQuery(query),
      route: null,
      status: 0,
      keyId: null,
      startedAt,
      durationMs: 0,
    };
    if (this.options.recordBodies) {
      const headers: Record<string, string> = {};
      for (const name of RECORDED_HEADERS) {
        const value = request.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      entry.headers = headers;
    }
    const finish = (reply: Reply | undefined, outcome?: RecordedRequest['outcome']) => {
      entry.durationMs = performance.now() - startedAtMs;
      if (outcome) {
        entry.outcome = outcome;
        entry.status = 0;
        request.socket.destroy();
      } else if (reply) {
        entry.status = reply.status;
        if (this.options.recordBodies) entry.responseBody = reply.text ?? reply.body;
        this.send(response, reply);
      }
      this.log.record(entry);
    };

    const matched = this.match(method, path);
    if (!matched) {
      finish(this.protocol.notFound());
      return;
    }
    const { compiled, params } = matched;
    const route = compiled.route;
    entry.route = compiled.name;
    const context: RequestContext = { params, query: new URLSearchParams(query), body: undefined, keyId: null, headers: request.headers };

    if (route.public) {
      finish(await route.handle(context));
      return;
    }

    const refusal = this.protocol.precheck?.(request.headers);
    if (refusal) {
      finish(refusal);
      return;
    }
    const keyId = this.keys.accept(this.protocol.readCredential(request.headers));
    if (keyId === undefined) {
      finish(this.protocol.unauthorized());
      return;
    }
    entry.keyId = keyId;
    context.keyId = keyId;

    const buckets = route.buckets ?? [];
    const scope = this.protocol.rateScope(keyId);
    const withRateHeaders = (reply: Reply): Reply => {
      const bucket = buckets[0];
      const status = bucket === undefined || !this.protocol.rateHeaders ? undefined : this.rates.status(bucket, scope);
      if (!status || !this.protocol.rateHeaders) return reply;
      return { ...reply, headers: { ...reply.headers, ...this.protocol.rateHeaders(status) } };
    };
    if (buckets.length > 0) {
      const acquired = this.rates.acquire(buckets, scope, keyId);
      if (!acquired.ok) {
        finish(withRateHeaders(this.protocol.rateLimited(acquired.retryAfterMs)));
        return;
      }
    }

    const fault = this.faults.decide(path);
    if (fault.reset) {
      finish(undefined, 'reset');
      return;
    }
    if (fault.delayMs > 0) {
      await sleep(fault.delayMs, undefined, { signal: this.closing.signal }).catch(() => undefined);
      if (this.closing.signal.aborted) return;
    }
    if (fault.throttleMs > 0) {
      const reply = this.protocol.rateLimited(fault.throttleMs);
      const rateHeaders = this.protocol.rateHeaders?.({
        limit: this.rates.limitsOf(buckets[0] ?? '')[0]?.requests ?? 0,
        remaining: 0,
        resetInMs: fault.throttleMs,
      });
      finish({ ...reply, headers: { ...reply.headers, ...rateHeaders } });
      return;
    }
    if (fault.serverError !== null) {
      finish(this.protocol.serverError(fault.serverError));
      return;
    }

    if (route.hasBody) {
      if (this.options.strictContract && !isJsonContentType(request.headers['content-type'])) {
        finish(withRateHeaders(this.protocol.unsupportedMediaType()));
        return;
      }
      const limitBytes = route.maxBodyBytes ?? this.options.defaultMaxBodyBytes;
      const body = await readBody(request, limitBytes);
      if (body.kind === 'aborted') {
        finish(undefined, 'reset');
        return;
      }
      if (body.kind === 'tooLarge') {
        finish(withRateHeaders(this.protocol.tooLarge(limitBytes)));
        return;
      }
      // A provider counts a request when it arrives: let requests already waiting on other sockets
      // be counted before this body's parsing and handling hold the event loop.
      await new Promise<void>((resolve) => setImmediate(resolve));
      try {
        context.body = JSON.parse(body.text);
      } catch (error) {
        finish(withRateHeaders(this.protocol.badJson(error instanceof Error ? error.message : 'Invalid JSON')));
        return;
      }
      if (this.options.recordBodies) entry.requestBody = context.body;
    }

    const reply = await route.handle(context);
    if (fault.lateMs > 0) {
      await sleep(fault.lateMs, undefined, { signal: this.closing.signal }).catch(() => undefined);
      if (this.closing.signal.aborted) return;
    }
    if (fault.loseResponse) {
      finish(undefined, 'lost-response');
      return;
    }
    finish(withRateHeaders(reply));
  }

  private send(response: ServerResponse, reply: Reply): void {
    if (response.headersSent || response.destroyed) return;
    const payload = reply.text ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
    const headers: Record<string, string | number> = { ...reply.headers, 'content-length': Buffer.byteLength(payload) };
    if (payload.length > 0) headers['content-type'] = reply.contentType ?? JSON_TYPE;
    response.writeHead(reply.status, headers);
    response.end(payload);
  }

  /** A bug in a handler: answer the provider's 500 and say so on stderr (never with a request body). */
  private fail(response: ServerResponse, error: unknown): void {
    console.error('emulator handler failed:', error instanceof Error ? error.stack : error);
    this.send(response, this.protocol.serverError(500));
  }

  private async inspect(
    method: string,
    path: string,
    query: URLSearchParams,
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const json = (status: number, body: unknown) => this.send(response, { status, body });
    const readJson = async (): Promise<unknown> => {
      const body = await readBody(request, 1024 * 1024);
      if (body.kind !== 'ok') throw new Error('No body');
      return JSON.parse(body.text);
    };
    try {
      switch (`${method} ${path}`) {
        case 'GET /_emulator/state':
          return json(200, this.inspection.summary());
        case 'GET /_emulator/requests': {
          const limit = Number(query.get('limit') ?? '100');
          const entries = this.log.entries().slice(-Math.max(0, Number.isFinite(limit) ? limit : 100));
          return json(200, {
            counts: this.log.counts,
            requests: entries.map(({ requestBody: _request, responseBody: _response, ...rest }) => rest),
          });
        }
        case 'GET /_emulator/rates': {
          const bucket = query.get('bucket') ?? '';
          const windowMs = Number(query.get('windowMs') ?? '1000');
          const keyId = query.get('keyId') ?? undefined;
          return json(200, {
            bucket,
            windowMs,
            limits: this.rates.limitsOf(bucket),
            maxRequestsInAnyWindow: this.rates.maxRequestsInAnyWindow(bucket, windowMs, { keyId }),
            stats: this.rates.stats(bucket, { keyId }),
          });
        }
        case 'PUT /_emulator/faults':
          return json(200, this.faults.set(faultSettingsInputSchema.parse(await readJson())));
        case 'DELETE /_emulator/faults':
          this.faults.clear();
          return json(200, this.faults.settings);
        case 'POST /_emulator/keys':
          return json(200, { keyId: this.keys.add(keyBodySchema.parse(await readJson()).key) });
        case 'DELETE /_emulator/keys': {
          const { key } = keyBodySchema.parse(await readJson());
          this.keys.revoke(key);
          return json(200, { keyId: this.keys.keyIdOf(key) ?? null });
        }
        case 'POST /_emulator/reset':
          this.reset();
          return json(200, { reset: true });
        default:
          return json(404, { error: `No inspection endpoint ${method} ${path}` });
      }
    } catch (error) {
      const message = error instanceof z.ZodError ? z.prettifyError(error) : error instanceof Error ? error.message : 'Bad request';
      return json(400, { error: message });
    }
  }

  reset(): void {
    this.log.reset();
    this.rates.reset();
    this.inspection.reset();
  }
}
