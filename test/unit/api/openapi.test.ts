import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROLES } from '../../../src/domain/policy';
import { API_VERSION, openApiDocument, openApiJson, operationIdOf } from '../../../src/api/openapi';
import type { HttpDefinition } from '../../../src/app/definitions';
import { loadDefinitions } from '../../../dev/local/load-definitions';
import { invokeHttp } from '../../support/http';
import { OpenApiChecker } from '../../support/openapi';

const ROOT = join(__dirname, '..', '..', '..');
const document = openApiDocument();
let http: HttpDefinition[];

beforeAll(async () => {
  const definitions = await loadDefinitions(join(ROOT, 'functions'));
  // Every API function (the `web` function serves the page, outside /api), its route without the `api/` all routes start with.
  http = definitions.flatMap((definition) =>
    definition.kind === 'http' && definition.name !== 'web'
      ? [{ ...definition, options: { ...definition.options, route: definition.options.route.replace(/^api\//, '') } }]
      : [],
  );
});

const operations = () =>
  Object.entries(document.paths).flatMap(([path, item]) => Object.entries(item).map(([method, operation]) => ({ path, method, operation })));

describe('the OpenAPI description', () => {
  it('is committed as docs/openapi.json exactly as `npm run openapi` writes it', () => {
    const committed = readFileSync(join(ROOT, 'docs', 'openapi.json'), 'utf8');
    expect(committed === openApiJson(), 'docs/openapi.json is stale: run `npm run openapi`').toBe(true);
  });

  it('describes every HTTP function of functions/ by its method and route, and nothing else', () => {
    const fromFunctions = http.flatMap(({ name, options }) =>
      options.methods.map((method) => `${method.toLowerCase()} /${options.route} ${operationIdOf(name)}`),
    );
    const fromDocument = operations().map(({ path, method, operation }) => `${method} ${path} ${operation.operationId}`);
    expect(fromDocument.sort()).toEqual(fromFunctions.sort());
    expect(fromFunctions.length).toBeGreaterThan(20);
  });

  it('passes an independent validator (swagger-parser, OpenAPI 3.1)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'openapi-'));
    try {
      const file = join(directory, 'openapi.json');
      writeFileSync(file, openApiJson());
      await expect(SwaggerParser.validate(file)).resolves.toMatchObject({ openapi: '3.1.0' });
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('declares every parameter of each path template', () => {
    for (const { path, method, operation } of operations()) {
      const inTemplate = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
      const declared = (operation.parameters ?? []).filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name);
      expect(declared, `${method} ${path}`).toEqual(inTemplate);
    }
  });

  it("carries the app's version", () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(API_VERSION).toBe(version);
    expect(document.info.version).toBe(version);
  });

  it('compiles every response schema with ajv (2020-12, strict)', () => {
    const checker = new OpenApiChecker(document);
    expect(checker.operationKeys()).toHaveLength(operations().length);
    for (const { path, method, operation } of operations()) {
      for (const status of Object.keys(operation.responses)) {
        // An empty body is not what any JSON response schema describes, so this compiles each schema.
        const problems = checker.problems(method, path.slice(1).replace(/\{\w+\}/g, 'x'), {
          status: Number(status),
          headers: new Headers({ 'content-type': 'application/json' }),
          text: 'null',
        });
        expect(problems.every((problem) => !/not in the description|does not document/.test(problem)), `${method} ${path} ${status}`).toBe(true);
      }
    }
  });
});

describe('the roles it names', () => {
  const secured = () => operations().filter(({ operation }) => operation.security.length > 0);

  it('names roles on every route that needs a principal, and none on the anonymous ones', () => {
    for (const { path, method, operation } of operations()) {
      if (operation['x-any-principal']) expect(operation['x-roles'], `${method} ${path}`).toBeUndefined();
      else if (operation.security.length > 0) expect(operation['x-roles']?.length, `${method} ${path}`).toBeGreaterThan(0);
      else expect(operation['x-roles'], `${method} ${path}`).toBeUndefined();
    }
    expect(secured().map(({ path }) => path)).not.toContain('/health');
  });

  it('are what each handler enforces: 401 without a principal, 403 to a role it does not name', async () => {
    for (const { path, method, operation } of secured()) {
      const definition = http.find((candidate) => operationIdOf(candidate.name) === operation.operationId)!;
      const call = (roles: string[] | undefined) =>
        invokeHttp(definition, {
          method: method.toUpperCase(),
          principal: roles ? { name: 'someone@example.com', roles, userId: 'oid-someone' } : undefined,
        });
      expect((await call(undefined)).status, `${method} ${path} without a principal`).toBe(401);
      if (operation['x-any-principal']) {
        expect((await call([])).status, `${method} ${path} with no role`).toBe(200);
        continue;
      }
      expect((await call([])).status, `${method} ${path} with no role`).toBe(403);
      for (const role of ROLES.filter((candidate) => !operation['x-roles']!.includes(candidate))) {
        expect((await call([role])).status, `${method} ${path} as ${role}`).toBe(403);
      }
    }
  });
});

describe('the response check of the end-to-end tests', () => {
  const checker = new OpenApiChecker(document);
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
    status,
    headers: new Headers({ 'content-type': 'application/json', ...headers }),
    text: JSON.stringify(body),
  });
  const run = {
    runId: 'run-1',
    exportId: 'exp-1',
    trigger: 'on-demand',
    mode: 'delta',
    dryRun: false,
    status: 'succeeded',
    createdAt: '2026-01-01T00:00:00.000Z',
    totals: { profiles: 1, invalid: 0, duplicates: 0, adds: 1, updates: 0, removes: 0, unchanged: 0, sent: 1, rejected: 0, failed: 0, suppressed: 0 },
    progress: { chunksTotal: 1, chunksDone: 1, percent: 100 },
  };

  it('accepts an answer as described', () => {
    expect(checker.problems('GET', 'runs/run-1', json(200, run))).toEqual([]);
    expect(checker.problems('GET', 'runs/run-1', json(404, { error: { code: 'not_found', message: "Run 'x' does not exist" } }))).toEqual([]);
  });

  it.each([
    ['a field is missing', 'GET', 'runs/run-1', json(200, { ...run, totals: undefined })],
    ['a field is not described', 'GET', 'runs/run-1', json(200, { ...run, secretName: 'kv-1' })],
    ['a value is out of its enum', 'GET', 'runs/run-1', json(200, { ...run, status: 'done' })],
    ['a status is not described', 'GET', 'runs/run-1', json(418, run)],
    ['an error code is not one the route answers', 'GET', 'runs/run-1', json(404, { error: { code: 'run_in_progress', message: 'no' } })],
    ['a promised header is missing', 'POST', 'exports/exp-1/runs', json(202, { runId: 'r', status: 'queued', statusUrl: '/api/runs/r' })],
    ['a body comes where none is described', 'DELETE', 'exports/exp-1', json(204, {})],
    ['the route is not described', 'GET', 'nowhere', json(200, {})],
  ])('refuses an answer when %s', (_, method, path, response) => {
    expect(checker.problems(method, path, response)).not.toEqual([]);
  });
});
