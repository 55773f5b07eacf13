import { useEffect, useRef, type FormEvent, type ReactNode } from 'react';
import { createPortal } from 'react-dom';
import { ApiError } from './lib/api';
import { percent, stateTone } from './lib/format';

export function Badge({ value, title }: { value: string; title?: string }): ReactNode {
  return (
    <span className={`badge tone-${stateTone(value)}`} title={title} data-state={value}>
      {value}
    </span>
  );
}

export function Bar({ used, total, label }: { used: number; total: number; label?: string }): ReactNode {
  const p = percent(used, total);
  return (
    <div className="bar" title={label ?? `${p}%`} role="meter" aria-valuenow={p} aria-valuemin={0} aria-valuemax={100} aria-label={label}>
      <div className={`bar-fill ${p > 90 ? 'hot' : p > 70 ? 'warm' : ''}`} style={{ width: `${p}%` }} />
    </div>
  );
}

export function Progress({ value }: { value: number }): ReactNode {
  return (
    <div className="bar progress" role="progressbar" aria-valuenow={value} aria-valuemin={0} aria-valuemax={100}>
      <div className="bar-fill" style={{ width: `${Math.max(0, Math.min(100, value))}%` }} />
    </div>
  );
}

export function Loading({ what }: { what?: string }): ReactNode {
  return (
    <div className="loading" role="status">
      <span className="spinner" aria-hidden /> Loading{what ? ` ${what}` : ''}…
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }): ReactNode {
  return <div className="empty">{children}</div>;
}

export function ErrorNote({ error }: { error: unknown }): ReactNode {
  if (!error) return null;
  const msg = error instanceof ApiError ? `${error.title}${error.detail ? `: ${error.detail}` : ''}` : error instanceof Error ? error.message : typeof error === 'string' ? error : 'Something went wrong';
  return (
    <div className="error-note" role="alert">
      {msg}
    </div>
  );
}

/** A labelled form field that shows the API's complaint about it (problem+json `errors[].field`). */
export function Field({ label, name, error, children, hint }: { label: string; name: string; error?: unknown; children: ReactNode; hint?: string }): ReactNode {
  const msg = error instanceof ApiError ? (error.fields[name] ?? Object.entries(error.fields).find(([k]) => k.startsWith(`${name}.`))?.[1]) : undefined;
  return (
    <label className={`field ${msg ? 'invalid' : ''}`} data-field={name}>
      <span className="field-label">{label}</span>
      {children}
      {msg ? (
        <span className="field-error" role="alert">
          {msg}
        </span>
      ) : hint ? (
        <span className="field-hint">{hint}</span>
      ) : null}
    </label>
  );
}

export function Card({ title, children, actions, className }: { title?: ReactNode; children: ReactNode; actions?: ReactNode; className?: string }): ReactNode {
  return (
    <section className={`card ${className ?? ''}`}>
      {title || actions ? (
        <header className="card-head">
          {title ? <h2>{title}</h2> : <span />}
          {actions}
        </header>
      ) : null}
      {children}
    </section>
  );
}

export function Kv({ items }: { items: [string, ReactNode][] }): ReactNode {
  return (
    <dl className="kv">
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * A modal form on the native <dialog> (focus kept inside, Esc closes it). Rendered only while
 * open: the caller mounts it to open it and unmounts it in `onClose`. It lives under <body>, so
 * that a table cell or a virtual row that opens it passes on none of its styles (nowrap, ellipsis).
 */
export function Dialog({ title, children, onClose, onSubmit, submit, busy, danger, testId, extra }: { title: string; children: ReactNode; onClose: () => void; onSubmit?: () => void; submit?: string; busy?: boolean; danger?: boolean; testId?: string; extra?: ReactNode }): ReactNode {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return createPortal(
    <dialog ref={ref} className="dialog" aria-label={title} data-testid={testId} onClose={onClose}>
      <form
        method="dialog"
        noValidate
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          onSubmit?.();
        }}
      >
        <header className="dialog-head">
          <h2>{title}</h2>
        </header>
        <div className="dialog-body">{children}</div>
        <footer className="dialog-foot">
          {extra}
          <button type="button" className={submit ? 'ghost' : 'primary'} onClick={onClose}>
            {submit ? 'Cancel' : 'Close'}
          </button>
          {submit ? (
            <button type="submit" className={danger ? 'primary danger-fill' : 'primary'} disabled={busy}>
              {busy ? 'Submitting…' : submit}
            </button>
          ) : null}
        </footer>
      </form>
    </dialog>,
    document.body,
  );
}
