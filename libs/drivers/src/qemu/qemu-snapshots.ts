import { SnapshotInfo } from '../driver';
import { DriverError } from '../driver.exception';
import { assertSafeName } from '../validate';
import { QcowSnapshot, QemuImg } from './qemu-img';
import { QemuRuntime } from './qemu-runtime';
import { InstanceStore } from './qemu-state';

const SAVEVM_TIMEOUT_MS = 10 * 60_000;

/** QEMU looks a snapshot up by id or by name, and ids are numbers: an all-digit name is ambiguous. */
function assertSnapshotName(name: string): string {
  assertSafeName('snapshot name', name);
  if (/^\d+$/.test(name)) throw new DriverError('InvalidArgument', `snapshot name ${name} must not be all digits (QEMU reads it as an id)`);
  return name;
}

/**
 * Internal qcow2 snapshots in the instance's overlay.
 *
 * Running (or suspended) VM: HMP `savevm` / `loadvm` / `delvm` through QMP — a full snapshot of
 * disk, RAM and devices; restoring one puts the VM back where it was, still running.
 * Stopped VM: `qemu-img snapshot -c/-a/-d` on the overlay — a disk-only snapshot; restoring
 * reverts the disk, and the next start boots from it. A disk-only snapshot cannot be loaded into
 * a running VM (QEMU refuses), so restoring one asks for the instance to be stopped first.
 * Listing reads the overlay's snapshot table with `qemu-img info -U` in every state.
 */
export class QemuSnapshots {
  constructor(
    private readonly store: InstanceStore,
    private readonly runtime: QemuRuntime,
    private readonly qemuImg: QemuImg,
  ) {}

  async list(id: string): Promise<QcowSnapshot[]> {
    await this.store.get(id);
    const info = await this.qemuImg.info(this.store.paths(id).overlay, { forceShare: true });
    return info.snapshots;
  }

  async create(id: string, name: string, signal?: AbortSignal): Promise<SnapshotInfo> {
    assertSnapshotName(name);
    if ((await this.list(id)).some((s) => s.name === name)) {
      throw new DriverError('Conflict', `snapshot ${name} of ${id} already exists`);
    }
    const pid = await this.runtime.livePid(id);
    if (pid !== undefined) {
      await this.runtime.withQmp(id, (qmp) => QemuRuntime.hmp(qmp, `savevm ${name}`, SAVEVM_TIMEOUT_MS));
    } else {
      await this.qemuImg.snapshot('create', this.store.paths(id).overlay, name, signal);
    }
    const made = (await this.list(id)).find((s) => s.name === name);
    if (!made) throw new DriverError('Fatal', `snapshot ${name} of ${id} was not recorded in the overlay`);
    return { name: made.name, createdAt: made.createdAt };
  }

  async restore(id: string, name: string, signal?: AbortSignal): Promise<void> {
    assertSnapshotName(name);
    const snap = (await this.list(id)).find((s) => s.name === name);
    if (!snap) throw new DriverError('NotFound', `snapshot ${name} of ${id} does not exist`);
    const pid = await this.runtime.livePid(id);
    if (pid === undefined) {
      await this.qemuImg.snapshot('apply', this.store.paths(id).overlay, name, signal);
      return;
    }
    if (snap.vmStateSize === 0) {
      throw new DriverError('Conflict', `snapshot ${name} holds only the disk (taken while stopped); stop ${id} to restore it`);
    }
    await this.runtime.withQmp(id, (qmp) => QemuRuntime.hmp(qmp, `loadvm ${name}`, SAVEVM_TIMEOUT_MS));
  }

  /** Deleting a snapshot that does not exist succeeds. */
  async delete(id: string, name: string, signal?: AbortSignal): Promise<void> {
    assertSnapshotName(name);
    if (!(await this.list(id)).some((s) => s.name === name)) return;
    const pid = await this.runtime.livePid(id);
    if (pid !== undefined) {
      await this.runtime.withQmp(id, (qmp) => QemuRuntime.hmp(qmp, `delvm ${name}`, SAVEVM_TIMEOUT_MS));
    } else {
      await this.qemuImg.snapshot('delete', this.store.paths(id).overlay, name, signal);
    }
  }
}
