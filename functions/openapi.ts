import { openApiDocument } from '../src/api/openapi';
import { defineHttp, json } from '../src/app/definitions';
import { app } from './app';

/**
 * Anonymous: the description is public (it is docs/openapi.json of the repository) and names no
 * secret, so tools may read it without signing in.
 */
export const openapi = defineHttp('openapi', { route: 'api/openapi.json', methods: ['GET'] }, async () => json(200, openApiDocument()));

app.http(openapi.name, openapi.options);
