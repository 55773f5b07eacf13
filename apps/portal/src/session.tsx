import { createContext, useContext } from 'react';
import type { Session } from './lib/types';

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in page');
  return s;
}

/** What the token may do; the portal hides the rest. */
export function can(s: Session): { change: boolean; admin: boolean; hosts: boolean } {
  return { change: s.role === 'admin' || s.role === 'operator', admin: s.role === 'admin' && s.fleetWide, hosts: s.fleetWide };
}
