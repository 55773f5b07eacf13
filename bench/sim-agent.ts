// The simulated fleet's agent, in a process of its own (forked by bench-stack.ts), as agents run
// on their own machines: the control plane under measurement does not share its event loop with
// the hosts it drives. Takes its options in the first IPC message; answers 'ready' once the
// hosts are enrolled and consuming; stops on 'stop'.
import 'reflect-metadata';
import { AgentRuntime, AgentOptions } from '@hyperplane/agent';
import { loadConfig } from '@hyperplane/config';
import { installAppLogger } from '@hyperplane/observability';

// The product's logger at LOG_LEVEL (default `log`), as `hyperplane-agent run` installs it:
// Nest's own would print every command at debug level, a line per instance.
installAppLogger(loadConfig({ LOG_LEVEL: process.env.LOG_LEVEL, LOG_FORMAT: process.env.LOG_FORMAT }));

process.once('message', (options: AgentOptions) => {
  const agent = new AgentRuntime(options);
  agent.start().then(
    () => process.send?.('ready'),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
  process.on('message', (m) => {
    if (m === 'stop') void agent.stop().finally(() => process.exit(0));
  });
});
process.on('disconnect', () => process.exit(0));
