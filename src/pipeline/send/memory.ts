// Large chunks (a Brevo import holds up to 8 MB of JSON, several times that once parsed) are read
// only while this process holds fewer than `MAX_PAYLOAD_BYTES_IN_MEMORY` of them, which bounds the
// memory however many messages the host hands us at once.
import type { AppContext } from '../../app/context';

export const MAX_PAYLOAD_BYTES_IN_MEMORY = 24 * 1024 * 1024;
const payloadBytesInMemory = new WeakMap<AppContext, { bytes: number }>();

export interface PayloadReservation {
  release(): void;
}

/** Reserves room for a payload of `bytes`; undefined when this process holds enough already. */
export function reservePayloadMemory(context: AppContext, bytes: number): PayloadReservation | undefined {
  let usage = payloadBytesInMemory.get(context);
  if (!usage) {
    usage = { bytes: 0 };
    payloadBytesInMemory.set(context, usage);
  }
  const held = usage;
  if (held.bytes > 0 && held.bytes + bytes > MAX_PAYLOAD_BYTES_IN_MEMORY) return undefined;
  held.bytes += bytes;
  let released = false;
  return {
    release: () => {
      if (released) return;
      released = true;
      held.bytes -= bytes;
    },
  };
}
