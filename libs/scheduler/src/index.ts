export * from './placement.types';
export { DEFAULT_POLICY, usableCapacity } from './placement-policy';
export { FILTER_ORDER, isStaticFilter } from './filter-codes';
export type { FilterCode } from './filter-codes';
export {
  ACCELERATOR_HOST_OS,
  DRIVER_HOST_OS,
  DRIVER_PREFERENCE,
  MAX_MACOS_GUESTS,
  containerBlocker,
  driverUsableOn,
  needsDedicatedKernel,
  windowsBuildOf,
} from './compatibility';
export { decisionForProject, explanationForProject, projectFailureSummary } from './explanation';
export type { PlacedFacts, ProjectDecision, ProjectExplanation } from './explanation';
export { WEIGHTS } from './weighers';
export { Scheduler, place, withClaim } from './scheduler';
export type { SchedulerOptions } from './scheduler';
export { mergePolicy, parseRatios, policyFromSettings, policyKey } from './policy-settings';
export type { PolicyOverride } from './policy-settings';
