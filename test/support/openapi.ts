// Real answers held to the OpenAPI description: each documented status, its JSON body against the
// response schema (ajv, JSON Schema 2020-12, formats included), no body where none is documented,
// and the headers it promises.
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { expect } from 'vitest';
import { openApiDocument, type OpenApiDocument, type OpenApiResponse, type OpenApiResponseOrRef } from '../../src/api/openapi';
import type { HttpMethodName } from '../../src/api/openapi-routes';
import { compileRoute, type CompiledRoute } from '../../dev/local/routes';
import { principalHeader, type Principal } from './http';

export interface ObservedResponse {
  status: number;
  headers: Headers;
  /** The body as text; '' when there is none. */
  text: string;
}

interface Operation {
  key: string;
  method: string;
  template: string;
  route: CompiledRoute;
}

const BASE = 'urn:segment-export:openapi';

/** Checks answers against one document; compiles each response schema once. */
export class OpenApiChecker {
  private readonly ajv: Ajv2020;
  private readonly operations: Operation[];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly document: OpenApiDocument = openApiDocument()) {
    this.ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats(this.ajv);
    // The components are the root of every `#/components/...` reference.
    this.ajv.addVocabulary(['components']);
    this.ajv.addSchema({ $id: BASE, components: { schemas: structuredClone(document.components.schemas) } });
    this.operations = Object.entries(document.paths)
      .flatMap(([template, item]) =>
        Object.keys(item).map((method) => ({
          key: operationKey(method, template),
          method: method.toUpperCase(),
          template,
          route: compileRoute(template),
        })),
      )
      .sort((a, b) => b.route.precedence - a.route.precedence);
  }

  /** Every operation as `GET /runs/{runId}`. */
  operationKeys(): string[] {
    return this.operations.map((operation) => operation.key).sort();
  }

  /** The operation that answers `method path` (path under /api, query allowed), like the host routes it. */
  operationFor(method: string, path: string): string | undefined {
    const pathname = path.split('?')[0]!;
    return this.operations.find((operation) => operation.method === method.toUpperCase() && operation.route.match(pathname))?.key;
  }

  /** What is wrong with an answer to `method path`; empty when it is as documented. */
  problems(method: string, path: string, response: ObservedResponse): string[] {
    const key = this.operationFor(method, path);
    if (!key) return [`${method} /${path} is not in the description`];
    const [verb, template] = key.split(' ') as [string, string];
    const operation = this.document.paths[template]?.[verb.toLowerCase() as HttpMethodName];
    const documented = operation?.responses[String(response.status)];
    if (!documented) return [`${key} does not document status ${response.status} (${response.text.slice(0, 200)})`];
    const expected = this.resolve(documented);
    const problems: string[] = [];
    for (const header of Object.keys(expected.headers ?? {})) {
      if (!response.headers.has(header)) problems.push(`${key} ${response.status}: the ${header} header is missing`);
    }
    const schema = expected.content?.['application/json']?.schema;
    if (!schema) {
      if (response.text !== '') problems.push(`${key} ${response.status}: a body where none is documented`);
      return problems;
    }
    const contentType = response.headers.get('content-type') ?? '';
    if (!/^application\/json\b/.test(contentType)) problems.push(`${key} ${response.status}: content-type '${contentType}', not JSON`);
    let body: unknown;
    try {
      body = JSON.parse(response.text);
    } catch {
      return [...problems, `${key} ${response.status}: the body is not JSON`];
    }
    const validate = this.validator(`${key} ${response.status}`, schema);
    if (!validate(body)) {
      for (const error of validate.errors ?? []) {
        problems.push(`${key} ${response.status}: ${error.instancePath || '(body)'} ${error.message ?? ''} ${JSON.stringify(error.params)}`);
      }
    }
    return problems;
  }

  private resolve(response: OpenApiResponseOrRef): OpenApiResponse {
    if (!('$ref' in response)) return response;
    const name = response.$ref.replace('#/components/responses/', '');
    const shared = this.document.components.responses[name];
    if (!shared) throw new Error(`No response ${response.$ref}`);
    return shared;
  }

  private validator(key: string, schema: object): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      const rebased = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', `"${BASE}#/components/`)) as object;
      validate = this.ajv.compile(rebased);
      this.validators.set(key, validate);
    }
    return validate;
  }
}

export function operationKey(method: string, template: string): string {
  return `${method.toUpperCase()} ${template}`;
}

export interface CheckedCallOptions {
  /** The caller; `null` sends no principal. */
  principal: Principal | null;
  json?: unknown;
  body?: string;
  contentType?: string;
}

export interface CheckedResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * An API client for the app at `baseUrl` that asserts every answer against the description and
 * remembers which operations it saw.
 */
export class CheckedApi {
  readonly exercised = new Set<string>();

  constructor(
    private readonly baseUrl: string,
    readonly checker = new OpenApiChecker(),
  ) {}

  async call<T = unknown>(method: string, path: string, options: CheckedCallOptions): Promise<CheckedResponse<T>> {
    const headers: Record<string, string> = {};
    if (options.principal) headers['x-ms-client-principal'] = principalHeader(options.principal);
    let body = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    }
    if (options.contentType) headers['content-type'] = options.contentType;
    const response = await fetch(`${this.baseUrl}/api/${path}`, { method, headers, body });
    const text = await response.text();
    const observed = { status: response.status, headers: response.headers, text };
    expect(this.checker.problems(method, path, observed), `${method} /api/${path} answered as described`).toEqual([]);
    const key = this.checker.operationFor(method, path);
    if (key) this.exercised.add(key);
    return { status: response.status, headers: response.headers, body: (text === '' ? undefined : JSON.parse(text)) as T };
  }
}
