import { handleLiftSuppression } from '../src/api/privacy';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const privacySuppressionsDelete = defineHttp(
  'privacy-suppressions-delete',
  { route: 'api/privacy/suppressions/{email}', methods: ['DELETE'] },
  handleLiftSuppression,
);

app.http(privacySuppressionsDelete.name, privacySuppressionsDelete.options);
