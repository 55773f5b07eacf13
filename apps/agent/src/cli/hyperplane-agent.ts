#!/usr/bin/env node
import 'reflect-metadata';
import { runCli } from './agent-cli';

// `hyperplane-agent` (package.json `bin`): run, install, uninstall.
runCli(process.argv.slice(2)).then(
  (code) => {
    if (code !== null) process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`hyperplane-agent: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
