import { handleGetErasure } from '../src/api/privacy';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const privacyErasuresGet = defineHttp('privacy-erasures-get', { route: 'api/privacy/erasures/{erasureId}', methods: ['GET'] }, handleGetErasure);

app.http(privacyErasuresGet.name, privacyErasuresGet.options);
