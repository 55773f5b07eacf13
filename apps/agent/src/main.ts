import 'reflect-metadata';
import { runAgentMain } from './cli/run-agent';

runAgentMain();
