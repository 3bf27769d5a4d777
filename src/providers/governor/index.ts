// The rate governor's public face: one shared budget per provider account (see governor.ts).
export { createRateGovernor, RateGovernor } from './governor';
export type { GovernorAccount, ObserveOptions, PauseOptions, RateGovernorOptions, TakeOptions, TakeResult } from './types';
