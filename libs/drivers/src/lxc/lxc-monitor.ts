import { connect } from 'node:net';
import { endianness } from 'node:os';
import { commandSocketName } from './lxc-state';

/**
 * LXC's command to its monitor that sets the container's state and wakes `lxc-wait`s
 * (LXC_CMD_SERVE_STATE_CLIENTS). liblxc keeps command numbers and their meaning fixed so that
 * any client can talk to any running monitor (commands.c: "semantics for current commands are
 * fixed"); 12 is this command from LXC 3.0 to 6.0.
 */
const SERVE_STATE_CLIENTS = 12;
/** lxc_state_t, the same from LXC 3.0 to 6.0. */
const STATE_NUMBER = { FROZEN: 6, THAWED: 7 } as const;
const POINTER_BYTES = ['ia32', 'arm', 'mips', 'mipsel', 'ppc'].includes(process.arch) ? 4 : 8;

/**
 * `struct lxc_cmd_req { lxc_cmd_t cmd; int datalen; const void *data; }` with the state carried
 * in the pointer (datalen 0), as liblxc's lxc_cmd_serve_state_clients() sends it.
 */
export function serveStateRequest(state: keyof typeof STATE_NUMBER): Buffer {
  const req = Buffer.alloc(8 + POINTER_BYTES);
  const le = endianness() === 'LE';
  const int = (value: number, at: number) => (le ? req.writeInt32LE(value, at) : req.writeInt32BE(value, at));
  int(SERVE_STATE_CLIENTS, 0);
  int(0, 4);
  if (POINTER_BYTES === 8) {
    if (le) req.writeBigInt64LE(BigInt(STATE_NUMBER[state]), 8);
    else req.writeBigInt64BE(BigInt(STATE_NUMBER[state]), 8);
  } else {
    int(STATE_NUMBER[state], 8);
  }
  return req;
}

/**
 * Whether this runtime can connect to an abstract socket by its exact name, as LXC binds it:
 * libuv before 1.48 (Node 20) pads the name with NULs to the whole sun_path, a different name.
 */
export function canReachMonitor(uv = process.versions.uv): boolean {
  const [major = 0, minor = 0] = (uv ?? '').split('.').map(Number);
  return process.platform === 'linux' && (major > 1 || (major === 1 && minor >= 48));
}

/**
 * Tells a container's monitor the state we put it in through its cgroup (FROZEN, THAWED), as
 * lxc-freeze and lxc-unfreeze do once the freezer says so: lxc-info, lxc-wait and lxc-unfreeze
 * ask the monitor, not the freezer. One connection to its command socket, no process. Resolves
 * false when it cannot be told that way (this runtime cannot reach the socket, the monitor is
 * gone or answers something else): the caller asks LXC's own tool.
 */
export function notifyMonitor(lxcPath: string, name: string, state: 'FROZEN' | 'THAWED', opts: { timeoutMs?: number; reachable?: boolean } = {}): Promise<boolean> {
  if (!(opts.reachable ?? canReachMonitor())) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect({ path: `\0${commandSocketName(lxcPath, name)}` });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 5_000);
    socket.on('connect', () => socket.write(serveStateRequest(state)));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // struct lxc_cmd_rsp { int ret; int datalen; void *data; }: ret 0 and no data is success.
      const rsp = Buffer.concat(chunks);
      if (rsp.length < 8 + POINTER_BYTES) return;
      const le = endianness() === 'LE';
      finish((le ? rsp.readInt32LE(0) : rsp.readInt32BE(0)) === 0 && (le ? rsp.readInt32LE(4) : rsp.readInt32BE(4)) === 0);
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}
