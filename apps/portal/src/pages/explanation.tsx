import type { ReactNode } from 'react';
import { explanationView } from '../lib/explain';
import type { Decision, Explanation } from '../lib/types';

/** ★ A placement explanation in words: chosen because…, next best…, or why nothing fits. */
export function ExplanationBlock({ explanation, decision }: { explanation: Explanation | null | undefined; decision?: Decision }): ReactNode {
  const v = explanationView(explanation, decision);
  return (
    <div className={`explain tone-${v.tone}`} data-testid="explanation" data-ok={v.tone === 'ok'}>
      <p className="explain-head">{v.headline}</p>
      {v.because.length ? (
        <>
          <h4>{v.tone === 'ok' ? 'Chosen because' : 'What was tried'}</h4>
          <ul>
            {v.because.map((b) => (
              <li key={b}>{b}</li>
            ))}
          </ul>
        </>
      ) : null}
      {v.nextBest.length ? (
        <>
          <h4>Next best</h4>
          <ul>
            {v.nextBest.map((b) => (
              <li key={b}>{b}</li>
            ))}
          </ul>
        </>
      ) : null}
      {v.refusals.length ? (
        <>
          <h4>{v.tone === 'ok' ? 'Hosts turned away' : 'Why no host fits'}</h4>
          <ul>
            {v.refusals.map((b) => (
              <li key={b}>{b}</li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}
