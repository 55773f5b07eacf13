import { useEffect, useRef, useState, type ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import { ApiError, get } from '../lib/api';
import { Card, Empty, ErrorNote, Loading } from '../ui';

interface ConsoleLog {
  instanceId: string;
  hostId: string;
  driver: string;
  lines: string[];
}

const LINE_CHOICES = [50, 200, 1000];

/**
 * The end of an instance's console log (GET /v1/instances/{id}/console), read by its host's
 * agent. "Follow" reads it again every few seconds and keeps the view at the bottom.
 */
export function ConsoleCard({ instanceId, offered }: { instanceId: string; offered: boolean | undefined }): ReactNode {
  const [lines, setLines] = useState(200);
  const [follow, setFollow] = useState(false);
  const log = useQuery({
    queryKey: ['console', instanceId, lines],
    queryFn: () => get<ConsoleLog>(`/v1/instances/${instanceId}/console?lines=${lines}`),
    // false when the host's driver declares no console (known only to fleet-wide tokens, which see hosts).
    enabled: offered !== false,
    retry: false,
    refetchInterval: follow ? 3000 : false,
    refetchOnWindowFocus: false,
  });
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [log.data]);
  const refused = log.error instanceof ApiError && log.error.status === 409;
  return (
    <Card
      title="Console log"
      className="wide"
      actions={
        offered === false || refused ? null : (
          <div className="actions console-tools">
            <select aria-label="Lines" value={lines} onChange={(e) => setLines(Number(e.target.value))}>
              {LINE_CHOICES.map((n) => (
                <option key={n} value={n}>
                  last {n} lines
                </option>
              ))}
            </select>
            <label className="check">
              <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
            </label>
            <button className="small-btn" onClick={() => void log.refetch()} disabled={log.isFetching}>
              {log.isFetching ? 'Reading…' : 'Refresh'}
            </button>
          </div>
        )
      }
    >
      {offered === false ? (
        <Empty>This instance's driver offers no console log.</Empty>
      ) : refused ? (
        <Empty>{(log.error as ApiError).detail}</Empty>
      ) : log.error ? (
        <ErrorNote error={log.error} />
      ) : !log.data ? (
        <Loading what="the console log" />
      ) : log.data.lines.length === 0 ? (
        <Empty>The console has printed nothing yet.</Empty>
      ) : (
        <pre className="console" ref={pre} data-console-lines={log.data.lines.length}>
          {log.data.lines.join('\n')}
        </pre>
      )}
    </Card>
  );
}
