// Who is calling, as the web app sees it: `GET /api/me` and the local host's role switch.
import { z } from 'zod';
import { ROLES } from './policy';

/** Who is calling: `GET /api/me`, and the local host's role switch (the roles are the policy's). */
export const roleSchema = z.enum(ROLES);

/** `GET /api/me`: the signed-in principal as the API sees it. */
export const meSchema = z.object({
  userId: z.string(),
  name: z.string(),
  roles: z.array(roleSchema),
});
export type Me = z.infer<typeof meSchema>;

/**
 * `GET /.local/session`, served by the local host alone (never by a function, so never in Azure):
 * the role the web app's role switch picked. `POST` it with `{ role }` to switch.
 */
export const localSessionSchema = z.object({ local: z.literal(true), role: roleSchema });
export type LocalSession = z.infer<typeof localSessionSchema>;
export const localSessionBodySchema = z.object({ role: roleSchema }).strict();
export const LOCAL_SESSION_PATH = '/.local/session';
