// The OpenAPI 3.1 description of the whole HTTP API: schemas converted from the zod schemas of
// src/domain (`z.toJSONSchema`), operations from the route table of `openapi-routes.ts`. Served at
// `GET /api/openapi.json` and committed as `docs/openapi.json` (`npm run openapi`).
import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { Errors } from '../errors';
import { rolesAllowedTo, type Role } from '../domain/policy';
import { ROUTES, TAGS, type ErrorCase, type HttpMethodName, type RouteBody, type RouteSpec, type SuccessResponse } from './openapi-routes';
import { REQUEST_SCHEMAS, RESPONSE_SCHEMAS } from './openapi-schemas';

type JsonSchema = z.core.JSONSchema.JSONSchema;

/** The version of the API this document describes: the app's version (package.json). */
export const API_VERSION = '0.1.0';

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  description?: string;
  schema: JsonSchema;
}

export interface OpenApiMediaType {
  schema: JsonSchema;
}

export interface OpenApiResponse {
  description: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  content?: Record<string, OpenApiMediaType>;
}

/** A response, or a reference to one of `components.responses`. */
export type OpenApiResponseOrRef = OpenApiResponse | { $ref: string };

export interface OpenApiOperation {
  operationId: string;
  tags: string[];
  summary: string;
  description: string;
  security: Record<string, string[]>[];
  /** The app roles that may call the operation (any one of them); absent on anonymous routes. */
  'x-roles'?: Role[];
  /** Any signed-in principal may call it, with or without an app role. */
  'x-any-principal'?: true;
  parameters?: OpenApiParameter[];
  requestBody?: { required: boolean; description?: string; content: Record<string, OpenApiMediaType> };
  responses: Record<string, OpenApiResponseOrRef>;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; summary: string; description: string; license: { name: string; identifier: string } };
  servers: { url: string; description: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Partial<Record<HttpMethodName, OpenApiOperation>>>;
  components: {
    schemas: Record<string, JsonSchema>;
    /** Error answers that carry one code, shared by name (`NotFound`). */
    responses: Record<string, OpenApiResponse>;
    securitySchemes: Record<string, Record<string, string>>;
  };
}

const SECURITY_SCHEMES = {
  entraId: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      "In Azure: an Entra ID access token for the app's registration (a signed-in browser sends App Service Authentication's session cookie instead). App Service Authentication validates it, answers 401 without it, and forwards the caller to the app as `x-ms-client-principal` with their app roles.",
  },
  clientPrincipal: {
    type: 'apiKey',
    in: 'header',
    name: 'x-ms-client-principal',
    description:
      'The caller as App Service Authentication forwards it: base64 of the JSON `{ auth_typ, name_typ, role_typ, claims: [{ typ, val }] }`; role claims are those whose `typ` is `roles` or `role_typ`. Clients cannot set it while authentication is on; locally (`npm start`, tests) the caller sends it.',
  },
} as const;

/** Either way of authenticating; the app reads the principal in both cases. */
const PRINCIPAL_SECURITY: Record<string, string[]>[] = [{ entraId: [] }, { clientPrincipal: [] }];

const PRINCIPAL_ERRORS: readonly ErrorCase[] = [Errors.unauthenticated, Errors.forbidden, Errors.authenticationOff];
const JSON_BODY_ERRORS: readonly ErrorCase[] = [Errors.validationFailed, Errors.invalidJson, Errors.payloadTooLarge, Errors.unsupportedMediaType];
const EVERY_ROUTE_ERRORS: readonly ErrorCase[] = [Errors.internal];

const DESCRIPTION = `Keeps customer segments in sync with Iterable, Brevo and Omnisend.

Requests are authenticated by App Service Authentication (Entra ID), which forwards the caller as the \`x-ms-client-principal\` header; the app reads the caller's app roles, **Admin** and **Contributor**, from it. No principal: 401 \`unauthenticated\`; a role that may not: 403 \`forbidden\`. Each operation names the roles that may call it in \`x-roles\` and in its description; a Contributor sees nothing (404) of what they may not use. In Azure, while App Service Authentication is off, every such operation answers 503 \`authentication_off\`: the header could be anyone's.

Errors are \`{ "error": { "code", "message", "details"? } }\` with a stable \`code\`; lists are \`{ "items": [...], "continuationToken"? }\`.`;

export function buildOpenApiDocument(routes: readonly RouteSpec[] = ROUTES): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  const sharedResponses: Record<string, OpenApiResponse> = {};
  for (const route of routes) {
    const item = (paths[`/${route.route}`] ??= {});
    if (item[route.method]) throw new Error(`Two routes are ${route.method.toUpperCase()} /${route.route}`);
    item[route.method] = operation(route, sharedResponses);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'segment-export',
      version: API_VERSION,
      summary: 'Customer segments to Iterable, Brevo and Omnisend',
      description: DESCRIPTION,
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/api', description: 'The app itself: every route is under /api' }],
    tags: TAGS.map((tag) => ({ ...tag })),
    paths,
    components: {
      schemas: { ...componentSchemas(RESPONSE_SCHEMAS, 'output'), ...componentSchemas(REQUEST_SCHEMAS, 'input') },
      responses: Object.fromEntries(Object.entries(sharedResponses).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}

let built: OpenApiDocument | undefined;

/** The document of this app's routes (built once). */
export function openApiDocument(): OpenApiDocument {
  return (built ??= buildOpenApiDocument());
}

/** The document as `docs/openapi.json` holds it. */
export function openApiJson(): string {
  return `${JSON.stringify(openApiDocument(), null, 2)}\n`;
}

/** `connections-create` -> `connectionsCreate`: the name its definition is exported under. */
export function operationIdOf(functionName: string): string {
  return functionName.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function operation(route: RouteSpec, sharedResponses: Record<string, OpenApiResponse>): OpenApiOperation {
  const { access } = route;
  const parameters = [...pathParameters(route), ...queryParameters(route)];
  return {
    operationId: operationIdOf(route.function),
    tags: [route.tag],
    summary: route.summary,
    description: [route.description, accessNote(route)].filter(Boolean).join('\n\n'),
    security: access.kind === 'anonymous' ? [] : PRINCIPAL_SECURITY,
    ...(access.kind === 'principal' ? { 'x-roles': [...rolesAllowedTo(access.action)] } : {}),
    ...(access.kind === 'signed-in' ? { 'x-any-principal': true as const } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body ? { requestBody: requestBody(route.body) } : {}),
    responses: responses(route, sharedResponses),
  };
}

function accessNote(route: RouteSpec): string {
  const { access } = route;
  if (access.kind === 'anonymous') return `No principal needed. ${access.why}`;
  if (access.kind === 'signed-in') return 'Any signed-in principal, with or without an app role.';
  const roles = rolesAllowedTo(access.action);
  const note = access.contributors && roles.includes('Contributor') ? ` (Contributors ${access.contributors})` : '';
  return `Roles: ${roles.join(', ')}${note}.`;
}

function pathParameters(route: RouteSpec): OpenApiParameter[] {
  const names = [...route.route.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((match) => match[1]!);
  const declared = Object.keys(route.path ?? {});
  if (names.join() !== declared.join()) {
    throw new Error(`${route.function}: the route names {${names.join('}, {')}}, the table describes ${declared.join(', ') || 'none'}`);
  }
  return names.map((name) => parameter(name, 'path', true, toJsonSchema(route.path![name]!, 'input')));
}

function queryParameters(route: RouteSpec): OpenApiParameter[] {
  if (!route.query) return [];
  const query = toJsonSchema(route.query, 'input');
  const required = new Set(query.required ?? []);
  return Object.entries(query.properties ?? {}).map(([name, schema]) => {
    if (typeof schema !== 'object') throw new Error(`${route.function}: query parameter ${name} has no schema`);
    return parameter(name, 'query', required.has(name), schema);
  });
}

/** A parameter; the schema's description becomes the parameter's. */
function parameter(name: string, where: 'path' | 'query', required: boolean, schema: JsonSchema): OpenApiParameter {
  const { description, ...rest } = schema;
  return { name, in: where, required, ...(typeof description === 'string' ? { description } : {}), schema: rest };
}

function requestBody(body: RouteBody): NonNullable<OpenApiOperation['requestBody']> {
  switch (body.kind) {
    case 'json':
      return { required: true, content: { 'application/json': { schema: componentRef(body.schema) } } };
    case 'upload':
      return {
        required: true,
        description: body.description,
        content: Object.fromEntries(body.mediaTypes.map((mediaType) => [mediaType, { schema: { type: 'string' } }])),
      };
    case 'ignored':
      return { required: false, description: body.description, content: { 'application/json': { schema: {} } } };
  }
}

function responses(route: RouteSpec, sharedResponses: Record<string, OpenApiResponse>): Record<string, OpenApiResponseOrRef> {
  const result: Record<string, OpenApiResponseOrRef> = {};
  for (const success of route.responses) result[String(success.status)] = successResponse(success);
  const errors = [
    ...(route.access.kind === 'principal' ? PRINCIPAL_ERRORS : route.access.kind === 'signed-in' ? [Errors.unauthenticated] : []),
    ...(route.body?.kind === 'json' ? JSON_BODY_ERRORS : []),
    ...(route.errors ?? []),
    ...EVERY_ROUTE_ERRORS,
  ];
  const codesByStatus = new Map<number, string[]>();
  for (const { code, status } of [...errors].sort((a, b) => a.status - b.status)) {
    const codes = codesByStatus.get(status) ?? [];
    if (!codes.includes(code)) codes.push(code);
    codesByStatus.set(status, codes);
  }
  for (const [status, codes] of codesByStatus) {
    if (result[String(status)]) throw new Error(`${route.function}: ${status} is both a success and an error`);
    const response = errorResponse(status, codes);
    if (codes.length === 1) {
      const name = pascalCase(codes[0]!);
      sharedResponses[name] ??= response;
      result[String(status)] = { $ref: `#/components/responses/${name}` };
    } else {
      result[String(status)] = response;
    }
  }
  return result;
}

function errorResponse(status: number, codes: readonly string[]): OpenApiResponse {
  return {
    description: `${STATUS_CODES[status] ?? 'Error'}: ${codes.map((code) => `\`${code}\``).join(', ')}`,
    content: { 'application/json': { schema: errorSchema(codes) } },
  };
}

/** `not_found` -> `NotFound`. */
function pascalCase(code: string): string {
  return code.replace(/(^|_)([a-z])/g, (_, _separator: string, letter: string) => letter.toUpperCase());
}

function successResponse(success: SuccessResponse): OpenApiResponse {
  const response: OpenApiResponse = { description: success.description };
  if (success.location) {
    response.headers = { Location: { description: `Where ${success.location} can be read`, schema: { type: 'string' } } };
  }
  if (success.schema) response.content = { 'application/json': { schema: componentRef(success.schema) } };
  return response;
}

/** The error body, with the codes this answer can carry. */
function errorSchema(codes: readonly string[]): JsonSchema {
  return {
    allOf: [
      componentRef('ErrorBody'),
      { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: [...codes] } } } } },
    ],
  };
}

function componentRef(name: string): JsonSchema {
  return { $ref: `#/components/schemas/${name}` };
}

/** Named zod schemas as components; one that holds another refers to it by name. */
function componentSchemas(schemas: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const converted = z.toJSONSchema(registry, { io, uri: (id) => `#/components/schemas/${id}` }).schemas;
  // `$id` and `$schema` belong to standalone schemas: inside the document the dialect is OpenAPI's.
  return Object.fromEntries(Object.entries(converted).map(([id, { $id: _id, $schema: _schema, ...schema }]) => [id, schema]));
}

function toJsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _schema, ...rest } = z.toJSONSchema(schema, { io });
  return rest;
}
