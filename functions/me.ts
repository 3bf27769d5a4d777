import { handleGetMe } from '../src/api/me';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const me = defineHttp('me', { route: 'api/me', methods: ['GET'] }, handleGetMe);

app.http(me.name, me.options);
