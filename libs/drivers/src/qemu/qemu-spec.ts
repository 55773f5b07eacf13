import { isDeepStrictEqual } from 'node:util';
import { ARCHES, Resources } from '@hyperplane/domain';
import { InstanceSpec } from '../driver';
import { DriverError } from '../driver.exception';
import { assertInstanceId, assertSafeName } from '../validate';
import { MAX_UNIX_SOCKET_PATH } from './qemu-args';
import { readQemuImageRef } from './qemu-images';

/** Everything about a spec that can be refused before the host is touched. */
export function validateVmSpec(spec: InstanceSpec, qmpSocketPath: string): void {
  assertInstanceId(spec.id);
  assertSafeName('instance name', spec.name);
  if (spec.technology !== 'vm') throw new DriverError('Unsupported', `the qemu driver runs VMs, not ${spec.technology}`);
  if (!ARCHES.includes(spec.arch)) throw new DriverError('InvalidArgument', `unknown arch ${String(spec.arch)}`);
  if (!spec.template.archs.includes(spec.arch)) {
    throw new DriverError('InvalidArgument', `template ${spec.template.name} has no ${spec.arch} image`);
  }
  validateResources(spec.resources);
  readQemuImageRef(spec.template);
  if (Buffer.byteLength(qmpSocketPath) > MAX_UNIX_SOCKET_PATH) {
    throw new DriverError('InvalidArgument', `stateDir is too long: the QMP socket ${qmpSocketPath} exceeds a unix socket path`);
  }
}

export function validateResources(r: Resources): void {
  for (const key of ['vcpus', 'memoryMiB', 'diskGiB'] as const) {
    if (!Number.isInteger(r[key]) || r[key] < 1) {
      throw new DriverError('InvalidArgument', `resources.${key} must be a positive whole number, got ${String(r[key])}`);
    }
  }
  if (r.memoryMiB < 16) throw new DriverError('InvalidArgument', 'a VM needs at least 16 MiB of memory');
}

/** Specs compared as stored: JSON drops undefined members. */
export function sameSpec(a: InstanceSpec, b: InstanceSpec): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
}
