import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { countProviderRequest } from '../app/telemetry';
import type { Logger } from '../log';
import {
  ProviderAuthError,
  ProviderPermanentError,
  ProviderThrottledError,
  ProviderTransientError,
  type ProviderError,
  type ProviderErrorInit,
} from './errors';
import { dispatch } from './sent';
import type { ProviderCallOptions, ProviderName } from './types';

/**
 * The one HTTP client every provider adapter uses: a keep-alive pool per origin (undici Agent), a
 * timeout and the caller's abort signal on every attempt, response bodies validated with zod, and
 * every failure classified (throttled / transient / auth / permanent) with what the caller needs to
 * act on it. Transient failures are retried here with exponential backoff and full jitter; a 429 is
 * never retried here: the caller pauses the whole account through the rate governor and re-enqueues.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RetryPolicy {
  /** Retries after the first attempt for transient failures; 0 leaves retrying to the caller. */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 3, baseDelayMs: 250, maxDelayMs: 8_000 };
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Used when a 429 says nothing about when to come back (Iterable): the governor escalates from here. */
export const DEFAULT_THROTTLE_WAIT_MS = 1_000;
/** A provider asking for more than a day is treated as asking for a day. */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

let sharedAgent: Agent | undefined;

/** The process-wide connection pool (one keep-alive pool per origin). */
export function sharedDispatcher(): Dispatcher {
  sharedAgent ??= new Agent({
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    connections: 32,
    maxResponseSize: MAX_RESPONSE_BYTES,
  });
  return sharedAgent;
}

/** Closes the shared pool (hosts at shutdown, tests). A later call opens a new one. */
export async function closeSharedDispatcher(): Promise<void> {
  const agent = sharedAgent;
  sharedAgent = undefined;
  await agent?.close();
}

export interface ProviderHttpClientOptions {
  provider: ProviderName;
  /** Every relative path is appended to this (`https://api.brevo.com/v3`). */
  baseUrl: string;
  /** Headers that carry the key; sent only to `baseUrl`'s origin. */
  credentialHeaders: Record<string, string>;
  /** Other headers sent on every request to `baseUrl`'s origin (`Omnisend-Version`). */
  headers?: Record<string, string>;
  /** The key itself, so that no provider text that echoes it reaches an error or a log. */
  secret: string;
  dispatcher?: Dispatcher;
  timeoutInMs?: number;
  retry?: Partial<RetryPolicy>;
  defaultThrottleWaitMs?: number;
  log?: Logger;
  random?: () => number;
}

export interface ProviderRequest<T> {
  method: HttpMethod;
  /** Relative to the base URL (`/contacts/import`), or an absolute URL (then no credentials unless same origin). */
  path: string;
  query?: Record<string, string | number>;
  /** Serialised as the JSON request body. */
  json?: unknown;
  /** The provider's body limit: a larger body is refused here (permanent) and never sent. */
  maxBodyBytes?: number;
  /** Validates a 2xx body (JSON, or text with `responseType: 'text'`). */
  schema: z.ZodType<T>;
  responseType?: 'json' | 'text';
  /** The governor bucket this request drew from, for rate signals. */
  bucket?: string;
  /**
   * Whether the request may be sent again after it may have reached the provider (timeouts, resets,
   * 5xx). Defaults to true: every provider write we make is a set operation, except creating an
   * Iterable list, which says false.
   */
  idempotent?: boolean;
  /** Turns a non-2xx answer into a success (Brevo's "already removed"); undefined keeps it an error. */
  recover?: (answer: { statusCode: number; body: unknown }) => T | undefined;
}

export interface ProviderResponse<T> {
  statusCode: number;
  data: T;
  headers: Record<string, string | string[] | undefined>;
}

export class ProviderHttpClient {
  readonly provider: ProviderName;
  private readonly base: URL;
  private readonly options: ProviderHttpClientOptions;
  private readonly retry: RetryPolicy;

  constructor(options: ProviderHttpClientOptions) {
    this.provider = options.provider;
    this.options = options;
    this.base = new URL(options.baseUrl.replace(/\/+$/, '') + '/');
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  }

  /** Performs the request, retrying transient failures; throws a classified ProviderError. */
  async request<T>(spec: ProviderRequest<T>, options: ProviderCallOptions = {}): Promise<ProviderResponse<T>> {
    const random = this.options.random ?? Math.random;
    const body = spec.json === undefined ? null : JSON.stringify(spec.json);
    if (body !== null && spec.maxBodyBytes !== undefined && Buffer.byteLength(body) > spec.maxBodyBytes) {
      throw new ProviderPermanentError({
        provider: this.provider,
        operation: `${spec.method} ${this.url(spec.path).pathname}`,
        providerCode: 'payload_too_large',
        providerMessage: `the request body would be ${Buffer.byteLength(body)} bytes, over the ${spec.maxBodyBytes}-byte limit`,
        attempts: 0,
      });
    }
    await options.beforeSend?.();
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.attempt(spec, body, options, attempt);
      } catch (error) {
        if (!(error instanceof ProviderTransientError) || !this.mayRetry(spec, error) || attempt > this.retry.maxRetries) {
          throw error;
        }
        const backoffMs = random() * Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
        const delayMs = Math.max(backoffMs, Math.min(error.retryAfterMs ?? 0, this.retry.maxDelayMs));
        this.options.log?.warn('Retrying a provider request after a transient failure', {
          provider: this.provider,
          operation: error.operation,
          statusCode: error.statusCode,
          attempt,
          delayMs: Math.round(delayMs),
        });
        await sleep(delayMs, undefined, { signal: options.abortSignal });
        await options.beforeRetry?.({ attempt, delayMs, error });
      }
    }
  }

  /** Resolves a path to the URL it will be sent to. */
  url(path: string, query?: Record<string, string | number>): URL {
    const url = /^https?:\/\//i.test(path) ? new URL(path) : new URL(path.replace(/^\/+/, ''), this.base);
    for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, String(value));
    return url;
  }

  /** Hands the request to the pool; `afterSend` runs when it is written to the connection. */
  private send(url: URL, spec: ProviderRequest<unknown>, body: string | null, signal: AbortSignal, afterSend: (() => void) | undefined) {
    const dispatcher = this.options.dispatcher ?? sharedDispatcher();
    const headers = this.headersFor(url, body !== null);
    return dispatch(() => request(url, { dispatcher, method: spec.method, headers, body, signal, idempotent: spec.idempotent ?? true }), afterSend);
  }

  private mayRetry(spec: ProviderRequest<unknown>, error: ProviderTransientError): boolean {
    if (spec.idempotent ?? true) return true;
    // A request that never reached the provider can always be sent again.
    return error.statusCode === undefined && isConnectFailure(error.cause);
  }

  private async attempt<T>(
    spec: ProviderRequest<T>,
    body: string | null,
    options: ProviderCallOptions,
    attempt: number,
  ): Promise<ProviderResponse<T>> {
    const url = this.url(spec.path, spec.query);
    const operation = `${spec.method} ${url.pathname}`;
    const init = (extra: Partial<ProviderErrorInit> = {}): ProviderErrorInit => ({
      provider: this.provider,
      operation,
      attempts: attempt,
      ...extra,
    });
    const timeoutInMs = options.timeoutInMs ?? this.options.timeoutInMs ?? DEFAULT_TIMEOUT_MS;
    const timeout = AbortSignal.timeout(timeoutInMs);
    const signal = options.abortSignal ? AbortSignal.any([options.abortSignal, timeout]) : timeout;

    let statusCode: number;
    let headers: Record<string, string | string[] | undefined>;
    let text: string;
    try {
      const response = await this.send(url, spec, body, signal, options.afterSend);
      statusCode = response.statusCode;
      headers = response.headers;
      text = await response.body.text();
    } catch (error) {
      if (options.abortSignal?.aborted) throw options.abortSignal.reason;
      if (timeout.aborted) {
        throw new ProviderTransientError(init({ providerCode: 'timeout', providerMessage: `no answer within ${timeoutInMs} ms`, cause: error }));
      }
      if (isNetworkFailure(error)) {
        throw new ProviderTransientError(init({ providerCode: networkCode(error), providerMessage: 'the connection failed', cause: error }));
      }
      throw error;
    }

    countProviderRequest(this.provider, statusCode);
    this.reportRateSignal(spec.bucket, headers, options);
    if (statusCode >= 200 && statusCode < 300) {
      const parsed = spec.schema.safeParse(spec.responseType === 'text' ? text : parseJson(text));
      if (parsed.success) return { statusCode, data: parsed.data, headers };
      throw new ProviderPermanentError(
        init({
          statusCode,
          providerCode: 'unexpected_response',
          providerMessage: `the answer did not have the documented shape (${this.clip(z.prettifyError(parsed.error), 300)})`,
        }),
      );
    }
    const recovered = spec.recover?.({ statusCode, body: parseJson(text) });
    if (recovered !== undefined) return { statusCode, data: recovered, headers };
    throw this.classify(statusCode, headers, parseJson(text), init);
  }

  private classify(
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    body: unknown,
    init: (extra?: Partial<ProviderErrorInit>) => ProviderErrorInit,
  ): ProviderError {
    const problem = this.describeProblem(body);
    const details = init({ statusCode, providerCode: problem.code, providerMessage: problem.message });
    const retryAfterMs = readRetryAfterMs(headers, body);
    if (statusCode === 429) {
      return new ProviderThrottledError({
        ...details,
        retryAfterMs: retryAfterMs ?? this.options.defaultThrottleWaitMs ?? DEFAULT_THROTTLE_WAIT_MS,
        retryAfterSource: retryAfterMs === undefined ? 'default' : 'provider',
      });
    }
    if (statusCode === 401 || statusCode === 403) return new ProviderAuthError(details);
    if (statusCode >= 500 || statusCode === 408) return new ProviderTransientError({ ...details, retryAfterMs });
    return new ProviderPermanentError(details);
  }

  /**
   * The provider's own code and message from any of their error shapes, scrubbed of the key. The
   * key goes before anything is cut: cutting first could end the text inside the key and leave its
   * prefix behind, where no scrub would find it.
   */
  private describeProblem(body: unknown): { code?: string; message?: string } {
    if (typeof body === 'string') {
      const message = this.clip(body.replace(/\s+/g, ' ').trim(), 200);
      return message === '' ? {} : { message };
    }
    const parsed = problemSchema.safeParse(body);
    if (!parsed.success) return {};
    const problem = parsed.data;
    const code = problem.code ?? problem.type;
    const fieldErrors = (problem.errors ?? [])
      .slice(0, 5)
      .map((item) => [item.field, item.message].filter((part) => part !== undefined).join(': '));
    const message = this.clip(
      [problem.msg ?? problem.message ?? problem.detail ?? problem.title, ...fieldErrors].filter((part) => part !== undefined && part !== '').join('; '),
      500,
    );
    return {
      ...(code === undefined ? {} : { code: this.clip(String(code), 200) }),
      ...(message === '' ? {} : { message }),
    };
  }

  /** Scrubbed of the key first, then cut to `maxChars`. */
  private clip(text: string, maxChars: number): string {
    return this.scrub(text).slice(0, maxChars);
  }

  /** Every occurrence of the key, as sent and as a provider may echo it (URL- or JSON-escaped). */
  private scrub(text: string): string {
    const secret = this.options.secret;
    if (secret.length < 4) return text;
    let scrubbed = text;
    for (const form of new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)])) scrubbed = scrubbed.split(form).join('[redacted]');
    return scrubbed;
  }

  private headersFor(url: URL, hasBody: boolean): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json, text/csv;q=0.9, */*;q=0.5' };
    if (hasBody) headers['content-type'] = 'application/json';
    if (url.origin === this.base.origin) Object.assign(headers, this.options.headers, this.options.credentialHeaders);
    return headers;
  }

  private reportRateSignal(
    bucket: string | undefined,
    headers: Record<string, string | string[] | undefined>,
    options: ProviderCallOptions,
  ): void {
    if (bucket === undefined || options.onRateSignal === undefined) return;
    const remaining = readNumber(headers['x-sib-ratelimit-remaining']);
    const resetSeconds = readNumber(headers['x-sib-ratelimit-reset']);
    if (remaining === undefined && resetSeconds === undefined) return;
    options.onRateSignal({
      bucket,
      ...(remaining === undefined ? {} : { remaining }),
      ...(resetSeconds === undefined ? {} : { resetInMs: clampWait(resetSeconds * 1000) }),
    });
  }
}

const problemSchema = z.looseObject({
  code: z.union([z.string(), z.number()]).optional(),
  type: z.string().optional(),
  msg: z.string().optional(),
  message: z.string().optional(),
  detail: z.string().optional(),
  title: z.string().optional(),
  errors: z.array(z.looseObject({ field: z.string().optional(), message: z.string().optional() })).optional().catch(undefined),
});

/**
 * The wait a provider asked for, in ms, from every form ours send: `retry-after-ms`, `Retry-After`
 * (seconds or an HTTP date), Brevo's `x-sib-ratelimit-reset` (seconds) and a problem body's
 * `retryAfter` (seconds). When several are present the longest wins.
 */
export function readRetryAfterMs(headers: Record<string, string | string[] | undefined>, body: unknown, nowMs = Date.now()): number | undefined {
  const waits: number[] = [];
  const ms = readNumber(headers['retry-after-ms']);
  if (ms !== undefined) waits.push(ms);
  const retryAfter = firstHeader(headers['retry-after']);
  if (retryAfter !== undefined) {
    const seconds = readNumber(retryAfter);
    if (seconds !== undefined) waits.push(seconds * 1000);
    else {
      const date = Date.parse(retryAfter);
      if (!Number.isNaN(date)) waits.push(date - nowMs);
    }
  }
  const reset = readNumber(headers['x-sib-ratelimit-reset']);
  if (reset !== undefined) waits.push(reset * 1000);
  const problem = z.looseObject({ retryAfter: z.union([z.number(), z.string()]) }).safeParse(body);
  if (problem.success) {
    const seconds = readNumber(String(problem.data.retryAfter));
    if (seconds !== undefined) waits.push(seconds * 1000);
  }
  return waits.length === 0 ? undefined : clampWait(Math.max(...waits));
}

function clampWait(ms: number): number {
  return Math.min(Math.max(0, Math.ceil(ms)), MAX_RETRY_AFTER_MS);
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function readNumber(value: string | string[] | undefined): number | undefined {
  const text = firstHeader(value)?.trim();
  if (text === undefined || !/^\d+(\.\d+)?$/.test(text)) return undefined;
  return Number(text);
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** undici wraps socket errors; the system code (ECONNRESET) may sit on the cause. */
function networkCode(error: unknown): string {
  const code = errorCode(error);
  const causeCode = error instanceof Error ? errorCode(error.cause) : undefined;
  return causeCode ?? code ?? 'network_error';
}

function isNetworkFailure(error: unknown): boolean {
  const code = errorCode(error);
  if (code === undefined) return false;
  return code.startsWith('UND_ERR_') ? code !== 'UND_ERR_INVALID_ARG' && code !== 'UND_ERR_NOT_SUPPORTED' : /^E[A-Z]+$/.test(code);
}

function isConnectFailure(error: unknown): boolean {
  const code = networkCode(error);
  return CONNECT_FAILURES.has(code) || CONNECT_FAILURES.has(errorCode(error) ?? '');
}
