import type { FaultSettingsInput } from './faults';
import { isInvalidEmail } from './email';

/** Options every emulator takes; see the README for what each one does. */
export interface CommonEmulatorOptions {
  /** 0 (default): a random free port. */
  port?: number;
  host?: string;
  apiKeys?: readonly string[];
  rateScale?: number;
  unthrottled?: boolean;
  asyncDelayMs?: number;
  recordBodies?: boolean;
  requestLogSize?: number;
  maxRateHistory?: number;
  faults?: FaultSettingsInput;
  seed?: number;
  isInvalidEmail?: (email: string) => boolean;
  retainAttributes?: boolean;
  strictContract?: boolean;
}

export type ResolvedCommonOptions = Required<Omit<CommonEmulatorOptions, 'faults'>> & { faults?: FaultSettingsInput };

export function resolveCommonOptions(provider: string, options: CommonEmulatorOptions): ResolvedCommonOptions {
  const rateScale = options.rateScale ?? 1;
  if (!(rateScale > 0)) throw new Error(`rateScale must be a positive number, got ${rateScale}`);
  return {
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    apiKeys: options.apiKeys ?? [`${provider}-emulator-key`],
    rateScale,
    unthrottled: options.unthrottled ?? false,
    asyncDelayMs: options.asyncDelayMs ?? 200,
    recordBodies: options.recordBodies ?? false,
    requestLogSize: options.requestLogSize ?? 1000,
    maxRateHistory: options.maxRateHistory ?? 1_000_000,
    faults: options.faults,
    seed: options.seed ?? 1,
    isInvalidEmail: options.isInvalidEmail ?? isInvalidEmail,
    retainAttributes: options.retainAttributes ?? true,
    strictContract: options.strictContract ?? true,
  };
}
