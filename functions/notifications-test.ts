import { handleTestNotifications } from '../src/api/notifications';
import { defineHttp } from '../src/app/definitions';
import { app } from './app';

export const notificationsTest = defineHttp(
  'notifications-test',
  { route: 'api/exports/{exportId}/notifications/test', methods: ['POST'] },
  handleTestNotifications,
);

app.http(notificationsTest.name, notificationsTest.options);
