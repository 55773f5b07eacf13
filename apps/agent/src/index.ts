export * from './agent.bootstrap';
export * from './agent.runtime';
export * from './sim/sim-fleet';
export * from './enrollment/api.client';
