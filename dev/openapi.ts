import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApiJson } from '../src/api/openapi';

/** `npm run openapi`: writes docs/openapi.json, the description that `GET /api/openapi.json` serves. */
const target = join(__dirname, '..', '..', 'docs', 'openapi.json');
writeFileSync(target, openApiJson());
console.log('wrote docs/openapi.json');
