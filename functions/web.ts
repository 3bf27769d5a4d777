import { createWebHandler, findWebRoot } from '../src/api/web';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

let root: string | undefined;

/** The admin web app at `/`: a catch-all, so every `api/...` route of the other functions wins over it. */
export const web = defineHttp(
  'web',
  { route: '{*path}', methods: ['GET', 'HEAD'] },
  createWebHandler({ root: () => (root ??= findWebRoot(__dirname)) }),
);

app.http(web.name, web.options);
