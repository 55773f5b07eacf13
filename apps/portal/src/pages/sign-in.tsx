import { useState, type FormEvent, type ReactNode } from 'react';
import { api, ApiError } from '../lib/api';
import type { Session } from '../lib/types';

export function SignInPage({ onSignedIn }: { onSignedIn: (token: string) => void; theme: string }): ReactNode {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api<Session>('GET', '/v1/session', undefined, token.trim());
      onSignedIn(token.trim());
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'This token is not valid (or has been revoked).' : err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="sign-in">
      <form onSubmit={(e) => void submit(e)} className="card sign-in-card">
        <div className="brand big">
          <img src="/favicon.svg" alt="" width={40} height={40} />
          <div>
            <h1>Hyperplane</h1>
            <p className="muted">Containers and VMs on Linux, Windows and macOS hosts</p>
          </div>
        </div>
        <label className={`field ${error ? 'invalid' : ''}`}>
          <span className="field-label">API token</span>
          <input name="token" type="password" autoComplete="off" autoFocus value={token} onChange={(e) => setToken(e.target.value)} placeholder="Paste an API token" required />
          {error ? (
            <span className="field-error" role="alert">
              {error}
            </span>
          ) : (
            <span className="field-hint">
              <code>npm start</code> prints the admin token at its first start. The token is kept for this browser tab only.
            </span>
          )}
        </label>
        <button className="primary" type="submit" disabled={busy || !token.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}
