import { handleCreateErasure } from '../src/api/privacy';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const privacyErasuresCreate = defineHttp('privacy-erasures-create', { route: 'api/privacy/erasures', methods: ['POST'] }, handleCreateErasure);

app.http(privacyErasuresCreate.name, privacyErasuresCreate.options);
