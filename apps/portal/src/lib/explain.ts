import type { Decision, Explanation } from './types';
import { technologyLabel } from './format';

/** A placement explanation as sentences a person reads, for the instance page and the preview. */
export interface ExplanationView {
  /** One line: where it went (or would go), or that nothing fits. */
  headline: string;
  tone: 'ok' | 'bad';
  /** "Chosen because …" lines. */
  because: string[];
  /** "Next best: host-b (score 0.61, VM)". */
  nextBest: string[];
  /** Why hosts were turned away, most hosts first: "412 hosts: no VM driver for macos-15". */
  refusals: string[];
}

export function explanationView(e: Explanation | null | undefined, decision?: Pick<Decision, 'ok' | 'hostName' | 'technology' | 'driver'>): ExplanationView {
  if (!e) return { headline: 'No placement yet', tone: 'ok', because: [], nextBest: [], refusals: [] };
  const ok = decision ? decision.ok : !!e.chosen || (!e.rejections?.length && !!e.summary && !/no host|nothing|cannot|none of/i.test(e.summary));
  const because: string[] = [];
  const chosen = e.chosen;
  const host = decision?.hostName ?? chosen?.hostName;
  const tech = decision?.technology ?? chosen?.technology ?? e.technology?.chosen;
  const driver = decision?.driver ?? chosen?.driver;
  let headline: string;
  if (ok) {
    headline = host ? `${technologyLabel(tech)} on ${host}${driver ? ` with ${driver}` : ''}` : e.summary || `${technologyLabel(tech)}${driver ? ` with ${driver}` : ''}`;
  } else {
    headline = e.summary || 'No host can take this request';
  }
  // With a chosen host the summary says what the lines below say, one by one.
  if (ok && !chosen && e.summary && e.summary !== headline) because.push(e.summary);
  if (e.technology?.reason) because.push(`Technology: ${e.technology.reason}`);
  if (ok && chosen) because.push(`${chosen.hostName} scored ${score(chosen.score)}, the best of ${e.fitting ?? e.hostsConsidered ?? '?'} fitting hosts${e.hostsConsidered ? ` (of ${e.hostsConsidered} considered)` : ''}`);
  const nextBest = (e.alternatives ?? []).slice(0, 3).map((c) => `${c.hostName} (score ${score(c.score)}, ${technologyLabel(c.technology)} with ${c.driver})`);
  const refusals = [...(e.rejections ?? [])]
    .sort((a, b) => (b.count ?? 0) - (a.count ?? 0))
    .map((r) => (r.count !== undefined ? `${r.count} ${r.count === 1 ? 'host' : 'hosts'}: ${r.message}` : r.message));
  if (e.otherTechnology) {
    const other = technologyLabel(e.otherTechnology.technology);
    for (const r of e.otherTechnology.rejections) refusals.push(`As a ${other}: ${r.count !== undefined ? `${r.count} ${r.count === 1 ? 'host' : 'hosts'}: ` : ''}${r.message}`);
  }
  return { headline, tone: ok ? 'ok' : 'bad', because, nextBest, refusals };
}

function score(n: number): string {
  return n.toFixed(3);
}
