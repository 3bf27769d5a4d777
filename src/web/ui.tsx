import { useEffect, useId, useRef, type ReactNode } from 'react';
import type { RunStatus } from '../domain/run';
import { ApiError } from './api';
import { STATUS_LABELS } from './format';

// The building blocks every page uses: its heading, and its loading, empty and error states.

/** The first page after loading keeps the browser's focus, so that Tab starts at the skip link. */
let loaded = false;

export function Page(props: { title: string; actions?: ReactNode; children: ReactNode; lead?: ReactNode }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.title} · segment-export`;
    // Another page of the app: move the focus (and a screen reader) to its heading.
    if (loaded) heading.current?.focus({ preventScroll: true });
    loaded = true;
  }, [props.title]);
  return (
    <>
      <div className="page-head">
        <div>
          <h1 ref={heading} tabIndex={-1}>
            {props.title}
          </h1>
          {props.lead ? <p className="lead">{props.lead}</p> : null}
        </div>
        {props.actions ? <div className="page-actions">{props.actions}</div> : null}
      </div>
      {props.children}
    </>
  );
}

export function Loading(props: { what: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" />
      Loading {props.what}…
    </p>
  );
}

export function Empty(props: { children: ReactNode }) {
  return <div className="empty">{props.children}</div>;
}

/** A failed load: what went wrong in words, and a way to try again. */
export function LoadError(props: { what: string; error: Error; onRetry?: () => void }) {
  return (
    <div className="notice error" role="alert">
      <p>
        <strong>Could not load {props.what}.</strong> {describeError(props.error)}
      </p>
      {props.onRetry ? (
        <button type="button" className="secondary" onClick={props.onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function Notice(props: { kind: 'success' | 'error' | 'info'; children: ReactNode }) {
  return (
    <div className={`notice ${props.kind}`} role={props.kind === 'error' ? 'alert' : 'status'}>
      {props.children}
    </div>
  );
}

/** The error's message, and where in the upload it is when the API says so. */
export function describeError(error: Error): string {
  if (!(error instanceof ApiError)) return error.message;
  const place = placeOf(error.details);
  return place ? `${error.message} (${place})` : error.message;
}

export function placeOf(details: unknown): string | undefined {
  if (typeof details !== 'object' || details === null) return undefined;
  const { line, column } = details as { line?: unknown; column?: unknown };
  if (typeof line !== 'number') return undefined;
  return typeof column === 'number' ? `line ${line}, column ${column}` : `line ${line}`;
}

/** Each problem a 400 lists, as `field: message`. */
export function fieldProblems(error: unknown): { path: string; message: string }[] {
  if (!(error instanceof ApiError) || !Array.isArray(error.details)) return [];
  return (error.details as unknown[]).flatMap((item) => {
    const { path, message } = (item ?? {}) as { path?: unknown; message?: unknown };
    return typeof path === 'string' && typeof message === 'string' ? [{ path, message }] : [];
  });
}

export function StatusBadge(props: { status: RunStatus; reason?: string }) {
  return (
    <span className={`badge status-${props.status}`} title={props.reason}>
      {STATUS_LABELS[props.status]}
      {props.reason ? <span className="visually-hidden"> ({props.reason})</span> : null}
    </span>
  );
}

export function ProgressBar(props: { percent: number; label: string; detail?: string }) {
  const labelId = useId();
  const rounded = Math.round(props.percent * 10) / 10;
  return (
    <div className="progress">
      <div className="progress-label">
        <span id={labelId}>{props.label}</span>
        <span aria-hidden="true">{rounded}%</span>
      </div>
      <div
        className="progress-track"
        role="progressbar"
        aria-labelledby={labelId}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={rounded}
        aria-valuetext={props.detail ? `${rounded}%, ${props.detail}` : `${rounded}%`}
      >
        <div className="progress-fill" style={{ width: `${Math.max(0, Math.min(100, props.percent))}%` }} />
      </div>
      {props.detail ? <p className="progress-detail">{props.detail}</p> : null}
    </div>
  );
}

/** A modal dialog (the browser's own: it keeps the focus inside and closes on Escape). */
export function Dialog(props: { title: string; onClose: () => void; children: ReactNode }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const element = dialog.current;
    if (!element) return undefined;
    element.showModal();
    return () => element.close();
  }, []);
  return (
    <dialog
      ref={dialog}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        props.onClose();
      }}
    >
      <h2 id={titleId}>{props.title}</h2>
      {props.children}
    </dialog>
  );
}
