import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** What an agent remembers across restarts: its credential and which host id is which. */
export interface AgentState {
  apiUrl: string;
  /** The enrollment's id: the agent's queues are named after it. */
  agentId: string;
  credential: string;
  /** The agent's own Redis user; null when the API has agents share REDIS_URL's credential. */
  redis: { username: string; password: string } | null;
  /** Host key (local hostname or simulated host name) → host id. */
  hosts: Record<string, string>;
}

export async function readAgentState(file: string): Promise<AgentState | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as AgentState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Written atomically and readable only by the agent's user: it holds a credential. */
export async function writeAgentState(file: string, state: AgentState): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
  // Windows refuses to replace a file another process (an antivirus, the indexer) holds open for a moment.
  for (let attempt = 1; ; attempt++) {
    try {
      await rename(tmp, file);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (attempt >= 5 || !['EPERM', 'EACCES', 'EBUSY'].includes(code ?? '') || process.platform !== 'win32') throw e;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}
