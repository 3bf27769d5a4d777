// When a request really went: undici may hand a request to a connection later than `request()` is
// called (the connection still finishing the previous exchange in a busy process), and a rate
// governor that counted it from the call would misjudge its window. Undici publishes, on its
// documented diagnostics channels, when it creates a request (synchronously, inside `request()`)
// and when it writes that request's headers to the socket: `dispatch` ties the two together and
// runs the caller's `onSent` at the write.
import { subscribe } from 'node:diagnostics_channel';

const waiting = new WeakMap<object, () => void>();
let dispatching: (() => void) | undefined;

function requestOf(message: unknown): object | undefined {
  if (typeof message !== 'object' || message === null || !('request' in message)) return undefined;
  const { request } = message;
  return typeof request === 'object' && request !== null ? request : undefined;
}

subscribe('undici:request:create', (message) => {
  const request = requestOf(message);
  if (dispatching === undefined || request === undefined) return;
  waiting.set(request, dispatching);
  dispatching = undefined;
});

subscribe('undici:client:sendHeaders', (message) => {
  const request = requestOf(message);
  const onSent = request === undefined ? undefined : waiting.get(request);
  if (request === undefined || onSent === undefined) return;
  waiting.delete(request);
  onSent();
});

/**
 * Calls `send` (which must create exactly one undici request, synchronously) and runs `onSent` when
 * that request's headers are written. Should the channels stay silent, `onSent` runs on return.
 */
export function dispatch<T>(send: () => T, onSent: (() => void) | undefined): T {
  if (onSent === undefined) return send();
  dispatching = onSent;
  try {
    return send();
  } finally {
    if (dispatching === onSent) onSent();
    dispatching = undefined;
  }
}
