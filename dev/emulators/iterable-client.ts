// Iterable's own TypeScript client (`@iterable/api`, a dev dependency) ships zod schemas of the
// list requests and responses: the emulator parses every subscribe / unsubscribe request with
// them and checks each answer against them, so a body the provider's own client would not send,
// or an answer it would not read, fails here rather than in production. The package is an ES
// module: it is loaded with a dynamic import (the dev build is CommonJS).
import type * as IterableLists from '@iterable/api/dist/types/lists.js' with { 'resolution-mode': 'import' };

type IterableListSchemas = typeof IterableLists;

export type IterableClientSchemas = Pick<
  IterableListSchemas,
  'SubscribeToListParamsSchema' | 'UnsubscribeFromListParamsSchema' | 'UserBulkUpdateListResponseSchema' | 'GetListsResponseSchema' | 'CreateListResponseSchema'
>;

let loaded: Promise<IterableClientSchemas> | undefined;

export function loadIterableClientSchemas(): Promise<IterableClientSchemas> {
  loaded ??= import('@iterable/api/dist/types/lists.js');
  return loaded;
}
