// The figures one benchmark invocation measures, as the report and the cost model read them.
import type { Provider } from '../app-client';
import type { RunCost } from './cost';
import type { Usage, WindowCheck } from './environment';

export interface Options {
  /** How this invocation was asked for (`npm run bench -- …`). */
  command: string;
  count: number;
  seed: number;
  scales: Record<Provider, number>;
  providers: Provider[];
  instances: number;
  unthrottled: boolean;
  throttled: boolean;
  large: boolean;
  sourcesOnly: boolean;
  /** `--reprice`: only price the cost section again. */
  reprice: boolean;
  cpuProfileDir: string | undefined;
  out: string;
}

export interface RunFigures {
  provider: Provider;
  profiles: number;
  /** Adds and updates planned (what had to be sent), and removals. */
  upserts: number;
  removes: number;
  sent: number;
  rejected: number;
  invalid: number;
  duplicates: number;
  seconds: number;
  usage: Usage;
}

export interface ThrottledFigures {
  provider: Provider;
  scale: number;
  full: RunFigures;
  ceilingSeconds: number;
  requests: number;
  throttled: number;
  windows: WindowCheck[];
  delta: RunFigures;
  cost: RunCost;
}

export interface UnthrottledFigures {
  full: RunFigures;
  delta?: RunFigures;
}
