import { HttpRequest, HttpResponse, InvocationContext, type HttpRequestInit, type HttpResponseInit } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { HttpDefinition } from '../../src/app/definitions';
import type { Logger } from '../../src/log';
import { handleLocalSession, localPrincipalHeader } from './role-switch';
import { compileRoute, type CompiledRoute } from './routes';

interface Route {
  definition: HttpDefinition;
  compiled: CompiledRoute;
  methods: ReadonlySet<string>;
}

export interface HttpServerOptions {
  definitions: readonly HttpDefinition[];
  routePrefix: string;
  log: Logger;
  /** Offer the web app's role switch (`./role-switch`): the local host stands in for App Service Authentication. */
  roleSwitch?: boolean;
}

/** Serves HTTP definitions with the Functions host's routes, route parameters and streaming bodies. */
export function createHttpServer(options: HttpServerOptions): Server {
  const routes: Route[] = options.definitions
    .map((definition) => ({
      definition,
      compiled: compileRoute(definition.options.route),
      methods: new Set(definition.options.methods.map((method) => method.toUpperCase())),
    }))
    .sort((a, b) => b.compiled.precedence - a.compiled.precedence);
  const prefix = options.routePrefix === '' ? '' : `/${options.routePrefix}`;

  return createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.log.error('local host could not answer a request', { error: error instanceof Error ? error : String(error) });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = req.headers.host ?? 'localhost';
    const url = new URL(req.url ?? '/', `http://${host}`);
    const method = (req.method ?? 'GET').toUpperCase();
    if (options.roleSwitch && (await handleLocalSession(req, res, url.pathname))) return;
    const path = url.pathname.toLowerCase().startsWith(`${prefix}/`) || prefix === '' ? url.pathname.slice(prefix.length) : undefined;
    const found = path === undefined ? undefined : findRoute(routes, path, method);
    if (!found) {
      req.resume();
      res.writeHead(404).end();
      return;
    }
    const body = method === 'GET' || method === 'HEAD' ? undefined : new RequestBody(req);
    if (!body) req.resume();
    const request = toHttpRequest(req, url, method, found.params, body, options.roleSwitch ? localPrincipalHeader(req) : undefined);
    const context = new InvocationContext({
      invocationId: randomUUID(),
      functionName: found.route.definition.name,
      triggerMetadata: { headers: Object.fromEntries(request.headers), query: Object.fromEntries(url.searchParams) },
    });
    const result = await found.route.definition.options.handler(request, context);
    // A handler may answer without reading the whole body (413, 403 before an upload). Node resets
    // the connection when it closes one with unread data, and a client still sending would lose the
    // answer: read and discard the rest first (bounded, as Kestrel does), then answer and close.
    const unread = body !== undefined && !req.complete;
    if (unread) await body.discardRest();
    await writeResponse(res, result, method, unread);
  }
}

function findRoute(routes: readonly Route[], path: string, method: string): { route: Route; params: Record<string, string> } | undefined {
  for (const route of routes) {
    if (!route.methods.has(method)) continue;
    const params = route.compiled.match(path);
    if (params) return { route, params };
  }
  return undefined;
}

const MAX_DISCARDED_BYTES = 64 * 1024 * 1024;
const DISCARD_TIMEOUT_IN_MS = 5_000;

/**
 * The request body as a web stream for the handler. Unlike `Readable.toWeb`, cancelling it does not
 * destroy the socket: the host decides what happens to the rest of the body (`discardRest`).
 */
class RequestBody {
  readonly stream: ReadableStream<Uint8Array>;
  private detached = false;

  constructor(private readonly req: IncomingMessage) {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          controller = c;
          req.pause();
        },
        pull: () => {
          req.resume();
        },
        cancel: () => this.detach(),
      },
      { highWaterMark: 4 },
    );
    req.on('data', (chunk: Buffer) => {
      if (this.detached) return;
      controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      if ((controller.desiredSize ?? 0) <= 0) req.pause();
    });
    req.on('end', () => {
      if (!this.detached) controller.close();
    });
    req.on('error', (error) => {
      if (!this.detached) controller.error(error);
    });
  }

  /** Reads what the handler left unread; gives up (and the connection is closed) past 64 MiB or 5 s. */
  async discardRest(): Promise<void> {
    this.detach();
    if (this.req.complete) return;
    await new Promise<void>((resolve) => {
      let discarded = 0;
      const done = () => {
        clearTimeout(timer);
        this.req.off('data', count);
        resolve();
      };
      const count = (chunk: Buffer) => {
        discarded += chunk.byteLength;
        if (discarded > MAX_DISCARDED_BYTES) done();
      };
      const timer = setTimeout(done, DISCARD_TIMEOUT_IN_MS);
      this.req.on('data', count).once('end', done).once('error', done).once('close', done);
      this.req.resume();
    });
  }

  private detach(): void {
    this.detached = true;
    this.req.pause();
  }
}

function toHttpRequest(
  req: IncomingMessage,
  url: URL,
  method: string,
  params: Record<string, string>,
  body: RequestBody | undefined,
  principalHeader: string | undefined,
): HttpRequest {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  if (principalHeader !== undefined) headers.set('x-ms-client-principal', principalHeader);
  // Streams the body through (`duplex: 'half'`), as the Functions host does with HTTP streaming on.
  const init: RequestInit & { duplex: 'half' } = { method, headers, body: body?.stream, duplex: 'half' };
  const nativeRequest = new Request(url, init);
  // `nativeRequest` is how the library itself builds a streaming request; its public init type
  // only knows string/bytes bodies.
  const requestInit = { nativeRequest, params } as unknown as HttpRequestInit;
  return new HttpRequest(requestInit);
}

async function writeResponse(res: ServerResponse, result: HttpResponseInit | HttpResponse, method: string, close = false): Promise<void> {
  const response = result instanceof HttpResponse ? result : new HttpResponse(result);
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  if (close) headers.connection = 'close';
  res.writeHead(response.status, headers);
  if (!response.body || method === 'HEAD') {
    res.end();
    return;
  }
  const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  await new Promise<void>((resolve, reject) => {
    body.on('error', reject);
    res.on('error', reject);
    res.on('finish', resolve);
    body.pipe(res);
  });
}
