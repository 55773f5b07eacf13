import { fromMilliVcpus, toMilliVcpus } from '@hyperplane/domain';
import { ValueTransformer } from 'typeorm';

/**
 * vCPU columns hold whole milli-vCPUs (see the milli-vcpus migration); entities speak decimal
 * vCPUs. Raw SQL sees milli-vCPUs: scale parameters with toMilliVcpus and results with
 * fromMilliVcpus.
 */
export const MILLI_VCPUS: ValueTransformer = {
  to: (value: unknown): unknown => (typeof value === 'number' ? toMilliVcpus(value) : value),
  from: (value: unknown): unknown => (value === null || value === undefined ? value : fromMilliVcpus(Number(value))),
};

/**
 * The milli-vCPU columns by name, for the code that maps raw rows and patches without entity
 * metadata (fromRow, setClause): no other table has a column of these names.
 */
export const MILLI_VCPU_COLUMNS: ReadonlySet<string> = new Set(['vcpus', 'claim_vcpus', 'reserve_vcpus', 'cap_vcpus', 'alloc_vcpus']);
