import { startBrevoEmulator, type BrevoEmulator, type BrevoEmulatorOptions } from './brevo';
import { startIterableEmulator, type IterableEmulator, type IterableEmulatorOptions } from './iterable';
import type { CommonEmulatorOptions } from './kit/options';
import { startOmnisendEmulator, type OmnisendEmulator, type OmnisendEmulatorOptions } from './omnisend';

export { BrevoEmulator, startBrevoEmulator } from './brevo';
export type { BrevoEmulatorOptions, BrevoList, BrevoProcess, BrevoProcessStatus, BrevoState, ImportFlags } from './brevo';
export { IterableEmulator, startIterableEmulator } from './iterable';
export type { IterableEmulatorOptions, IterableList, IterableState } from './iterable';
export { OmnisendEmulator, startOmnisendEmulator } from './omnisend';
export type {
  OmnisendBatch,
  OmnisendBatchStatus,
  OmnisendContact,
  OmnisendEmulatorOptions,
  OmnisendPhone,
  OmnisendSeedContact,
  OmnisendState,
  OmnisendStatus,
} from './omnisend';
export { BaseEmulator, type EmulatorProvider, type RatesView, type RequestLogView } from './kit/base';
export { isInvalidEmail } from './kit/email';
export type { FaultSettings, FaultSettingsInput } from './kit/faults';
export type { CommonEmulatorOptions } from './kit/options';
export type { RateLimit, RateQueryOptions, RateStats } from './kit/rate-limits';
export type { RecordedRequest, RequestCounts } from './kit/request-log';

export interface StartEmulatorsOptions extends CommonEmulatorOptions {
  iterable?: IterableEmulatorOptions;
  brevo?: BrevoEmulatorOptions;
  omnisend?: OmnisendEmulatorOptions;
}

export interface Emulators {
  iterable: IterableEmulator;
  brevo: BrevoEmulator;
  omnisend: OmnisendEmulator;
  /** The app settings that point the app at these emulators. */
  env: { ITERABLE_BASE_URL: string; BREVO_BASE_URL: string; OMNISEND_BASE_URL: string };
  close(): Promise<void>;
}

/** All three emulators; per-provider options win over the common ones. */
export async function startEmulators(options: StartEmulatorsOptions = {}): Promise<Emulators> {
  const { iterable: iterableOptions, brevo: brevoOptions, omnisend: omnisendOptions, ...common } = options;
  const started = await Promise.allSettled([
    startIterableEmulator({ ...common, ...iterableOptions }),
    startBrevoEmulator({ ...common, ...brevoOptions }),
    startOmnisendEmulator({ ...common, ...omnisendOptions }),
  ] as const);
  const [iterable, brevo, omnisend] = started;
  if (iterable.status === 'rejected' || brevo.status === 'rejected' || omnisend.status === 'rejected') {
    await Promise.all(started.map((result) => (result.status === 'fulfilled' ? result.value.close() : Promise.resolve())));
    const failure = started.find((result) => result.status === 'rejected');
    throw failure?.reason instanceof Error ? failure.reason : new Error('Could not start the emulators');
  }
  return {
    iterable: iterable.value,
    brevo: brevo.value,
    omnisend: omnisend.value,
    env: {
      ITERABLE_BASE_URL: iterable.value.baseUrl,
      BREVO_BASE_URL: brevo.value.baseUrl,
      OMNISEND_BASE_URL: omnisend.value.baseUrl,
    },
    close: async () => {
      await Promise.all([iterable.value.close(), brevo.value.close(), omnisend.value.close()]);
    },
  };
}
