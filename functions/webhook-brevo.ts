import { handleBrevoWebhook } from '../src/api/runs';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

/** Outside App Service Authentication: the unguessable per-import token in the path is the credential. */
export const webhookBrevo = defineHttp('webhook-brevo', { route: 'api/webhooks/brevo/{token}', methods: ['POST'] }, handleBrevoWebhook);

app.http(webhookBrevo.name, webhookBrevo.options);
