import { useCallback, useEffect, useRef, useState } from 'react';

export type Loadable<T> =
  | { state: 'loading'; data?: undefined; error?: undefined }
  | { state: 'ready'; data: T; error?: undefined }
  | { state: 'error'; data?: undefined; error: Error };

/**
 * Loads once per `key`, and again on `reload` (showing what it had meanwhile), cancelling a load
 * that a newer one replaced.
 */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, key: string): Loadable<T> & { reload: () => void } {
  const [value, setValue] = useState<{ key: string; loaded: Loadable<T> } | undefined>();
  const [generation, setGeneration] = useState(0);
  const loader = useRef(load);
  useEffect(() => {
    loader.current = load;
  });
  useEffect(() => {
    const controller = new AbortController();
    loader
      .current(controller.signal)
      .then((data) => {
        if (!controller.signal.aborted) setValue({ key, loaded: { state: 'ready', data } });
      })
      .catch((error: unknown) => {
        if (!controller.signal.aborted) setValue({ key, loaded: { state: 'error', error: error instanceof Error ? error : new Error(String(error)) } });
      });
    return () => controller.abort();
  }, [key, generation]);
  const reload = useCallback(() => setGeneration((current) => current + 1), []);
  const loaded: Loadable<T> = value?.key === key ? value.loaded : { state: 'loading' };
  return { ...loaded, reload };
}

/** Calls `tick` every `intervalInMs` while `active`. */
export function useInterval(tick: () => void, intervalInMs: number, active: boolean): void {
  const saved = useRef(tick);
  useEffect(() => {
    saved.current = tick;
  });
  useEffect(() => {
    if (!active) return undefined;
    const handle = setInterval(() => saved.current(), intervalInMs);
    return () => clearInterval(handle);
  }, [intervalInMs, active]);
}

/** Any thrown value as words. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : 'Something went wrong';
}
