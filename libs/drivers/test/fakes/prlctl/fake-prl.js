'use strict';
// A fake of Parallels' prlctl and prlsrvctl for tests: Virtuozzo (Linux) or Parallels Desktop
// (macOS) flavour. State lives in $FAKE_PRL_STATE/state.json between calls; every call is logged
// to $FAKE_PRL_STATE/calls.log (one JSON argv per line). It accepts the documented syntax only
// (OpenVZ/prlctl man page and CmdParam.cpp; Desktop from vagrant-parallels and packer) and fails
// the way the real tool does: "Unrecognized option: X" / "The `X' option requires an argument."
// with exit 1, SDK errors with exit 255, 253 when the dispatcher is unreachable, 254 when a VM is
// frozen. Faults are injected through state.json's `faults` (see the test helper fake-prl.ts).
//
// Environment: FAKE_PRL_STATE (required), FAKE_PRL_FLAVOUR=virtuozzo|desktop,
// FAKE_PRL_EDITION=pro|business|enterprise|standard|home (Desktop), FAKE_PRL_NOISE=1 (text
// around JSON on stdout, as Vagrant's GH-204 saw).

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const FLAVOUR = process.env.FAKE_PRL_FLAVOUR === 'desktop' ? 'desktop' : 'virtuozzo';
const DESKTOP = FLAVOUR === 'desktop';
const NOISE = process.env.FAKE_PRL_NOISE === '1';
const UUID = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;

class Exit extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function fail(code, message) {
  throw new Exit(code, message);
}

// --- state ---------------------------------------------------------------------------------

function stateDir() {
  const dir = process.env.FAKE_PRL_STATE;
  if (!dir) {
    process.stderr.write('fake prlctl: FAKE_PRL_STATE is not set\n');
    process.exit(2);
  }
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function defaultState() {
  const tpl = (name, os, type) => ({ uuid: crypto.randomUUID(), name, type: type || 'VM', os, state: 'stopped', template: true, cpus: 2, memsize: 1024, snapshots: [] });
  const vms = DESKTOP
    ? [tpl('debian-12', 'debian'), tpl('windows-server-2022', 'win-2022'), tpl('macos-15', 'macosx', 'macvm')]
    : [tpl('debian-12', 'debian'), tpl('windows-server-2022', 'win-2022')];
  return {
    vms: Object.fromEntries(vms.map((v) => [v.uuid, v])),
    osTemplates: DESKTOP ? [] : [
      { name: 'debian-12-x86_64', type: 'os', arch: 'x86_64', cached: 'yes' },
      { name: 'ubuntu-24.04-x86_64', type: 'os', arch: 'x86_64', cached: 'no' },
      { name: 'php-debian-12-x86_64', type: 'app', arch: 'x86_64', cached: '-' },
    ],
    faults: {},
  };
}

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function withState(fn) {
  const dir = stateDir();
  const lock = path.join(dir, 'state.lock');
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      try {
        const pid = Number(fs.readFileSync(lock, 'utf8'));
        if (pid > 0) process.kill(pid, 0);
      } catch (dead) {
        if (dead.code === 'ESRCH') fs.rmSync(lock, { force: true });
      }
      if (Date.now() > deadline) fail(1, 'fake prlctl: state lock held too long');
      sleepMs(5);
    }
  }
  try {
    const file = path.join(dir, 'state.json');
    const state = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : defaultState();
    state.faults = state.faults || {};
    try {
      return fn(state);
    } finally {
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 1));
      fs.renameSync(`${file}.tmp`, file);
    }
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

// --- command lines -------------------------------------------------------------------------

/**
 * Options of one action: long name → { short, arg }. Parses like the tool's GetOpt: `--x v`,
 * `--x=v`, `-x v`; an option not listed is "Unrecognized option", a missing value "requires an
 * argument". Returns { opts, positional }.
 */
function parse(argv, spec) {
  const opts = {};
  const positional = [];
  const byShort = {};
  for (const [long, o] of Object.entries(spec)) if (o.short) byShort[o.short] = long;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const [name, inline] = a.slice(2).split(/=(.*)/s, 2);
      const o = spec[name];
      if (!o) fail(1, `Unrecognized option: ${a}`);
      if (o.arg) {
        const v = inline !== undefined ? inline : argv[++i];
        if (v === undefined || (inline === undefined && v.startsWith('-') && v.length > 1)) fail(1, `The \`${name}' option requires an argument.`);
        opts[name] = v;
      } else {
        if (inline !== undefined) fail(1, `Unrecognized option: ${a}`);
        opts[name] = true;
      }
    } else if (a.startsWith('-') && a.length > 1) {
      const long = byShort[a.slice(1)];
      if (!long) fail(1, `Unrecognized option: ${a}`);
      if (spec[long].arg) {
        const v = argv[++i];
        if (v === undefined) fail(1, `The \`${long}' option requires an argument.`);
        opts[long] = v;
      } else opts[long] = true;
    } else positional.push(a);
  }
  return { opts, positional };
}

const flag = (short) => ({ short, arg: false });
const value = (short) => ({ short, arg: true });

function actionSpec(action) {
  const specs = {
    list: {
      all: flag('a'), template: flag('t'), info: flag('i'), full: flag('f'), json: flag('j'), output: value('o'),
      'no-header': flag('H'), sort: value('s'), ...(DESKTOP ? {} : { vmtype: value(null) }),
    },
    create: DESKTOP
      ? { ostype: value('o'), distribution: value('d'), dst: value(null), 'no-hdd': flag(null), 'restore-image': value(null) }
      : { ostemplate: value('t'), ostype: value('o'), distribution: value('d'), vmtype: value(null), chipset: value(null), dst: value(null), uuid: value(null), changesid: flag(null), 'no-hdd': flag(null) },
    clone: { name: value(null), template: flag(null), dst: value(null), changesid: flag(null), linked: flag(null), id: value(null), ...(DESKTOP ? { 'regenerate-src-uuid': flag(null) } : { 'detach-external-hdd': value(null) }) },
    start: DESKTOP ? {} : { repair: flag(null), wait: flag(null) },
    stop: DESKTOP ? { kill: flag('k'), 'drop-state': flag(null), acpi: flag(null), noforce: flag(null) } : { kill: flag('k'), fast: flag(null), acpi: flag(null), force: flag(null), noforce: flag(null) },
    restart: {},
    reset: {},
    suspend: {},
    resume: {},
    pause: {},
    delete: DESKTOP ? {} : { force: flag(null) },
    set: { cpus: value(null), memsize: value(null), name: value(null), description: value(null), ...(DESKTOP ? {} : { cpulimit: value(null), cpuunits: value(null) }) },
    snapshot: { name: value('n'), description: value('d'), wait: flag(null) },
    'snapshot-list': { tree: flag('t'), id: value('i'), 'no-header': flag('H'), ...(DESKTOP ? { json: flag('j') } : {}) },
    'snapshot-switch': { id: value('i'), wait: flag(null), 'skip-resume': flag(null) },
    'snapshot-delete': { id: value('i'), children: flag('c') },
  };
  return specs[action];
}

// --- output --------------------------------------------------------------------------------

function out(text) {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function json(value) {
  const body = JSON.stringify(value, null, 4);
  out(NOISE ? `Parallels Service is busy, output may be delayed\r\n${body}\nDone.` : body);
}

function braces(uuid) {
  return `{${uuid}}`;
}

// --- lookups -------------------------------------------------------------------------------

function bareUuid(s) {
  return s.replace(/^\{|\}$/g, '').toLowerCase();
}

function find(state, ref, { templates = false } = {}) {
  const key = UUID.test(ref) ? bareUuid(ref) : null;
  const vm = key ? state.vms[key] : Object.values(state.vms).find((v) => v.name === ref);
  if (!vm || (vm.template && !templates)) {
    fail(255, DESKTOP ? 'Failed to get VM config: The virtual machine could not be found.' : `The ${ref} virtual machine does not exist.`);
  }
  return vm;
}

function kind(vm) {
  return vm.type === 'CT' ? 'Container' : 'VM';
}

function injected(state, action, vm) {
  const f = state.faults;
  if (f.unreachable > 0) {
    f.unreachable -= 1;
    fail(253, 'Unable to connect to Virtuozzo. You may experience a connection problem or the server may be down. Contact your Virtuozzo administrator for assistance.');
  }
  if (vm && (f.frozen || []).includes(vm.uuid)) fail(254, `Failed to ${action} the ${kind(vm)}: The virtual machine is frozen.`);
  const sync = f.dataSync || {};
  if (sync[action] > 0) {
    sync[action] -= 1;
    fail(255, `Failed to ${action.replace('snapshot-', '')} the snapshot: Data synchronization is currently in progress. Please try again later.`);
  }
}

function log(tool, argv) {
  fs.appendFileSync(path.join(stateDir(), 'calls.log'), `${JSON.stringify([tool, ...argv])}\n`);
}

// --- prlctl --------------------------------------------------------------------------------

/**
 * `prlctl ACTION <ID | NAME> [OPTIONS]`: the target is the word right after the action
 * (CmdParam.cpp `param.id = argv[offset]`), options follow it. Anything else is refused.
 */
function parseTargeted(argv, action) {
  if (argv.length < 1) fail(1, 'Invalid usage');
  const [target, ...rest] = argv;
  const { opts, positional } = parse(rest, actionSpec(action));
  if (positional.length) fail(1, `Unrecognized option: ${positional[0]}`);
  return { target, opts };
}

function infoObject(vm) {
  const o = {
    ID: vm.uuid,
    Name: vm.name,
    Description: '',
    Type: vm.type,
    State: vm.state,
    OS: vm.os,
    Template: vm.template ? 'yes' : 'no',
    Uptime: '00:00:00 (since 2024-01-01 00:00:00)',
    Home: `/fake/${vm.name}.${vm.type === 'CT' ? 'ct' : 'pvm'}/`,
    Hardware: { cpu: { cpus: vm.cpus, VT_x: true }, memory: { size: `${vm.memsize}Mb` }, hdd0: { enabled: true, image: 'harddisk.hdd' } },
  };
  if (!DESKTOP) o.EnvID = vm.type === 'CT' ? vm.uuid : vm.uuid;
  return o;
}

const LIST_FIELDS = ['uuid', 'id', 'ctid', 'envid', 'status', 'ip_configured', 'ip', 'type', 'name', 'home', 'ostemplate', 'description', 'dist'];

function listField(vm, field) {
  switch (field) {
    case 'uuid': case 'id': case 'ctid': case 'envid': return vm.uuid;
    case 'status': return vm.state;
    case 'ip_configured': case 'ip': return '-';
    case 'type': return vm.type === 'CT' ? 'CT' : 'VM';
    case 'name': return vm.name;
    case 'home': return `/fake/${vm.name}`;
    case 'ostemplate': return vm.ostemplate || '';
    case 'description': return '';
    case 'dist': return vm.os;
  }
}

function cmdList(state, argv) {
  const { opts, positional } = parse(argv, actionSpec('list'));
  if (positional.length > 1) fail(1, `Unrecognized option: ${positional[1]}`);
  if (opts.vmtype && !['ct', 'vm', 'all'].includes(opts.vmtype)) fail(1, `An incorrect value for --vmtype is specified: ${opts.vmtype}`);
  if (opts.info) {
    const vms = positional.length ? [find(state, positional[0], { templates: true })] : Object.values(state.vms).filter((v) => !!v.template === !!opts.template);
    if (opts.json) json(vms.map(infoObject));
    else out(vms.map((v) => Object.entries(infoObject(v)).map(([k, val]) => `${k}: ${typeof val === 'object' ? JSON.stringify(val) : val}`).join('\n')).join('\n\n'));
    return;
  }
  if (positional.length) {
    const vm = find(state, positional[0], { templates: true });
    return printRows([vm], opts);
  }
  let vms = Object.values(state.vms).filter((v) => !!v.template === !!opts.template);
  if (!opts.all && !opts.template) vms = vms.filter((v) => v.state !== 'stopped');
  if (opts.vmtype && opts.vmtype !== 'all') vms = vms.filter((v) => (v.type === 'CT' ? 'ct' : 'vm') === opts.vmtype);
  printRows(vms, opts);
}

function printRows(vms, opts) {
  const fields = (opts.output || (DESKTOP ? 'uuid,status,ip_configured,name' : 'uuid,status,ip_configured,type,name')).split(',');
  for (const f of fields) if (!LIST_FIELDS.includes(f)) fail(1, `Unknown field: ${f}`);
  if (opts.json) return json(vms.map((v) => Object.fromEntries(fields.map((f) => [f, listField(v, f)]))));
  const rows = vms.map((v) => fields.map((f) => (f === 'uuid' ? braces(v.uuid) : String(listField(v, f)))).join('  '));
  out([...(opts['no-header'] ? [] : [fields.map((f) => f.toUpperCase()).join('  ')]), ...rows].join('\n'));
}

function cmdCreate(state, argv) {
  const { target, opts } = parseTargeted(argv, 'create');
  const name = target;
  if (Object.values(state.vms).some((v) => v.name === name)) fail(255, `Failed to create the ${opts.vmtype === 'ct' ? 'Container' : 'VM'}: The virtual machine with the name "${name}" already exists.`);
  if (opts.vmtype && !['ct', 'vm'].includes(opts.vmtype)) fail(1, `An incorrect value for --vmtype is specified: ${opts.vmtype}`);
  const ct = opts.vmtype === 'ct';
  let os = opts.distribution || opts.ostype || 'linux';
  if (opts.ostemplate) {
    const t = state.osTemplates.find((x) => x.name === opts.ostemplate && x.type === 'os');
    if (!t) fail(255, `Failed to create the ${ct ? 'Container' : 'VM'}: The OS template ${opts.ostemplate} is not found.`);
    os = opts.ostemplate.split('-')[0];
  } else if (ct) {
    fail(255, 'Failed to create the Container: an OS template must be specified with --ostemplate.');
  }
  let uuid = crypto.randomUUID();
  if (opts.uuid !== undefined) {
    if (!UUID.test(opts.uuid)) fail(1, `An incorrect value for --uuid is specified: ${opts.uuid}`);
    uuid = bareUuid(opts.uuid);
    if (state.vms[uuid]) fail(255, `Failed to create the ${ct ? 'Container' : 'VM'}: A virtual machine with the UUID ${braces(uuid)} already exists.`);
  }
  injected(state, 'create');
  state.vms[uuid] = { uuid, name, type: ct ? 'CT' : 'VM', os, ostemplate: opts.ostemplate, state: 'stopped', template: false, cpus: 1, memsize: ct ? 512 : 1024, snapshots: [] };
  out(`Creating the ${ct ? 'Container' : 'VM'}...\nThe ${ct ? 'Container' : 'VM'} has been successfully created.`);
}

function cmdClone(state, argv) {
  const { target, opts } = parseTargeted(argv, 'clone');
  const src = find(state, target, { templates: true });
  if (!opts.name) fail(1, 'The --name option must be specified.');
  if (Object.values(state.vms).some((v) => v.name === opts.name)) fail(255, `Failed to clone the ${kind(src)}: The virtual machine with the name "${opts.name}" already exists.`);
  injected(state, 'clone', src);
  const uuid = crypto.randomUUID();
  state.vms[uuid] = { ...src, uuid, name: opts.name, state: 'stopped', template: !!opts.template, linkedTo: opts.linked ? src.uuid : undefined, snapshots: [] };
  out(`Clone the ${src.name} ${kind(src)} to ${kind(src)} ${opts.name}...\n\nThe ${kind(src)} has been successfully cloned.`);
}

const TRANSITIONS = {
  start: { from: ['stopped'], to: 'running', verb: 'started' },
  stop: { from: ['running', 'paused', 'stopping'], to: 'stopped', verb: 'stopped' },
  restart: { from: ['running'], to: 'running', verb: 'restarted' },
  reset: { from: ['running', 'paused'], to: 'running', verb: 'reset' },
  suspend: { from: ['running'], to: 'suspended', verb: 'suspended' },
  resume: { from: ['suspended', 'paused'], to: 'running', verb: 'resumed' },
  pause: { from: ['running'], to: 'paused', verb: 'paused' },
};

function cmdPower(state, action, argv) {
  const { target, opts } = parseTargeted(argv, action);
  const vm = find(state, target);
  injected(state, action, vm);
  const t = TRANSITIONS[action];
  if (action === 'stop' && vm.state === 'suspended') {
    if (!opts['drop-state']) fail(255, `Failed to stop the ${kind(vm)}: The ${kind(vm)} is suspended. Use --drop-state to discard its saved state.`);
    vm.state = 'stopped';
    return out(`Stopping the ${kind(vm)}...\nThe ${kind(vm)} has been successfully stopped.`);
  }
  if (action === 'stop' && vm.state === 'stopped') return; // PRL_ERR_DISP_VM_IS_NOT_STARTED is not an error for stop
  if (!t.from.includes(vm.state)) fail(255, `Failed to ${action} the ${kind(vm)}: The ${kind(vm)} is ${vm.state}; the operation cannot be performed in this state.`);
  if (action === 'stop' && !opts.kill && vm.hangOnShutdown) {
    // A guest that ignores the ACPI request: the real tool waits; the driver's timeout kills the call.
    vm.state = 'stopping';
    writeAndHang(state);
  }
  vm.state = t.to;
  if (action === 'stop' || action === 'start') vm.startedAt = action === 'start' ? Date.now() : undefined;
  out(`${action[0].toUpperCase()}${action.slice(1)}ing the ${kind(vm)}...\nThe ${kind(vm)} has been successfully ${t.verb}.`);
}

function writeAndHang(state) {
  const file = path.join(stateDir(), 'state.json');
  fs.writeFileSync(file, JSON.stringify(state, null, 1));
  fs.rmSync(path.join(stateDir(), 'state.lock'), { force: true });
  for (;;) sleepMs(1000);
}

function cmdDelete(state, argv) {
  const { target, opts } = parseTargeted(argv, 'delete');
  const vm = find(state, target, { templates: true });
  injected(state, 'delete', vm);
  if (vm.state !== 'stopped') {
    if (!opts.force) fail(255, `Failed to delete the ${kind(vm)}: The ${kind(vm)} is ${vm.state}. Stop it first.`);
    vm.state = 'stopped';
  }
  if (Object.values(state.vms).some((v) => v.linkedTo === vm.uuid)) fail(255, `Failed to delete the ${kind(vm)}: it has linked clones.`);
  delete state.vms[vm.uuid];
  out(`Removing the ${kind(vm)}...\nThe ${kind(vm)} has been successfully removed.`);
}

function cmdSet(state, argv) {
  const { target, opts } = parseTargeted(argv, 'set');
  const vm = find(state, target);
  if (Object.keys(opts).length === 0) fail(1, 'Nothing to set: no options were given.');
  injected(state, 'set', vm);
  for (const key of ['cpus', 'memsize']) {
    if (opts[key] === undefined) continue;
    if (!/^\d+$/.test(opts[key]) || Number(opts[key]) < 1) fail(1, `An incorrect value for --${key} is specified: ${opts[key]}`);
    // A VM changes CPUs and memory only while stopped unless hotplug is on; a container at once.
    if (vm.type === 'VM' && vm.state !== 'stopped') fail(255, `Failed to configure the VM: Unable to change the ${key === 'cpus' ? 'number of CPUs' : 'memory size'} of a running VM. CPU/memory hotplug is disabled.`);
  }
  // Virtuozzo: a CPU-time limit in percent of one CPU (or MHz) and a relative CPU weight.
  if (opts.cpulimit !== undefined && !/^\d+(\.\d+)?(%|m|mhz)?$/i.test(opts.cpulimit)) fail(1, `An incorrect value for --cpulimit is specified: ${opts.cpulimit}`);
  if (opts.cpuunits !== undefined && (!/^\d+$/.test(opts.cpuunits) || Number(opts.cpuunits) < 8 || Number(opts.cpuunits) > 500000)) fail(1, `An incorrect value for --cpuunits is specified: ${opts.cpuunits}`);
  if (opts.cpulimit !== undefined) vm.cpulimit = opts.cpulimit;
  if (opts.cpuunits !== undefined) vm.cpuunits = Number(opts.cpuunits);
  if (opts.cpus) vm.cpus = Number(opts.cpus);
  if (opts.memsize) vm.memsize = Number(opts.memsize);
  if (opts.name) vm.name = opts.name;
  out(`Configure the ${kind(vm)}...\n\nThe ${kind(vm)} has been successfully configured.`);
}

function snapDate() {
  return new Date().toISOString().replace('T', ' ').slice(0, 19);
}

function cmdSnapshot(state, argv) {
  const { target, opts } = parseTargeted(argv, 'snapshot');
  const vm = find(state, target);
  injected(state, 'snapshot', vm);
  const id = crypto.randomUUID();
  const current = vm.snapshots.find((s) => s.current);
  for (const s of vm.snapshots) s.current = false;
  vm.snapshots.push({ id, name: opts.name || `Snapshot ${vm.snapshots.length + 1}`, description: opts.description || '', date: snapDate(), parent: current ? current.id : '', current: true, state: vm.state === 'running' ? 'poweron' : 'poweroff', cpus: vm.cpus, memsize: vm.memsize });
  out(`Creating the snapshot...\nThe snapshot with ${DESKTOP ? 'ID' : 'id'} ${braces(id)} has been successfully created.`);
}

function snapById(vm, ref) {
  const s = UUID.test(ref) ? vm.snapshots.find((x) => x.id === bareUuid(ref)) : undefined;
  if (!s) fail(255, `The snapshot with ID ${ref} does not exist.`);
  return s;
}

function cmdSnapshotList(state, argv) {
  const { target, opts } = parseTargeted(argv, 'snapshot-list');
  const vm = find(state, target);
  if (opts.tree && opts.id) fail(1, 'The --tree and --id options cannot be used together.');
  injected(state, 'snapshot-list', vm);
  if (opts.json) {
    return json(Object.fromEntries(vm.snapshots.map((s) => [braces(s.id), { name: s.name, date: s.date, state: s.state, current: s.current, parent: s.parent ? braces(s.parent) : '' }])));
  }
  if (opts.id) {
    const s = snapById(vm, opts.id);
    return out(`ID: ${braces(s.id)}\nName: ${s.name}\nDate: ${s.date}\n${s.current ? 'Current: yes\n' : ''}State: ${s.state}\nDescription: ${s.description}`);
  }
  const lines = opts['no-header'] ? [] : ['PARENT_SNAPSHOT_ID                      SNAPSHOT_ID'];
  for (const s of vm.snapshots) lines.push(`${(s.parent ? braces(s.parent) : '').padStart(38)} ${s.current ? '*' : ' '}${braces(s.id).padStart(38)}`);
  out(lines.join('\n'));
}

function cmdSnapshotSwitch(state, argv) {
  const { target, opts } = parseTargeted(argv, 'snapshot-switch');
  const vm = find(state, target);
  if (!opts.id) fail(1, 'The snapshot ID must be specified with --id.');
  injected(state, 'snapshot-switch', vm);
  const s = snapById(vm, opts.id);
  for (const x of vm.snapshots) x.current = x.id === s.id;
  vm.state = s.state === 'poweron' ? 'running' : 'stopped';
  vm.cpus = s.cpus;
  vm.memsize = s.memsize;
  out(`Switch to the snapshot...\nThe ${kind(vm)} has been successfully switched.`);
}

function cmdSnapshotDelete(state, argv) {
  const { target, opts } = parseTargeted(argv, 'snapshot-delete');
  const vm = find(state, target);
  if (!opts.id) fail(1, 'The snapshot ID must be specified with --id.');
  injected(state, 'snapshot-delete', vm);
  const s = snapById(vm, opts.id);
  const gone = new Set([s.id]);
  if (opts.children) {
    let grew = true;
    while (grew) {
      grew = false;
      for (const x of vm.snapshots) if (!gone.has(x.id) && gone.has(x.parent)) { gone.add(x.id); grew = true; }
    }
  }
  for (const x of vm.snapshots) if (x.parent === s.id && !gone.has(x.id)) x.parent = s.parent;
  vm.snapshots = vm.snapshots.filter((x) => !gone.has(x.id));
  out('Delete the snapshot...\nThe snapshot has been successfully deleted.');
}

function prlctl(argv) {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    return out(DESKTOP ? 'prlctl version 19.4.1 (54985)' : 'prlctl version 9.0.26');
  }
  const [action, ...rest] = argv;
  if (!action) fail(1, 'Usage: prlctl ACTION <ID | NAME> [OPTIONS]');
  if (!DESKTOP && action !== 'list') {
    process.stderr.write('WARNING: You are using a deprecated CLI component that will be dropped in the next major release. Please use virsh instead\n');
  }
  return withState((state) => {
    if (action === 'list') {
      injected(state, 'list');
      return cmdList(state, rest);
    }
    switch (action) {
      case 'create': return cmdCreate(state, rest);
      case 'clone': return cmdClone(state, rest);
      case 'start': case 'stop': case 'restart': case 'reset': case 'suspend': case 'resume': case 'pause':
        return cmdPower(state, action, rest);
      case 'delete': return cmdDelete(state, rest);
      case 'set': return cmdSet(state, rest);
      case 'snapshot': return cmdSnapshot(state, rest);
      case 'snapshot-list': return cmdSnapshotList(state, rest);
      case 'snapshot-switch': return cmdSnapshotSwitch(state, rest);
      case 'snapshot-delete': return cmdSnapshotDelete(state, rest);
      default: fail(1, `Invalid action: ${action}`);
    }
  });
}

// --- prlsrvctl -----------------------------------------------------------------------------

function prlsrvctl(argv) {
  const [action, ...rest] = argv;
  if (!DESKTOP) {
    process.stderr.write('WARNING: You are using a deprecated CLI component that will be dropped in the next major release. Please use virsh instead\n');
  }
  return withState((state) => {
    injected(state, `srv-${action}`);
    if (action === 'info') {
      const { opts, positional } = parse(rest, { json: flag('j'), license: flag(null), full: flag('f') });
      if (positional.length) fail(1, `Unrecognized option: ${positional[0]}`);
      if (opts.license) {
        const edition = process.env.FAKE_PRL_EDITION || 'pro';
        const lic = DESKTOP ? { status: 'ACTIVE', serial: 'XXXX-XXXX', expiration: '2030-01-01 00:00:00', edition } : { status: 'ACTIVE', serial: 'XXXX-XXXX', product: 'Virtuozzo' };
        return opts.json ? json(lic) : out(Object.entries(lic).map(([k, v]) => `${k}="${v}"`).join('\n'));
      }
      const info = {
        ID: '6c9f1b2e-0000-4000-8000-000000000001',
        Hostname: 'fake-host',
        Version: DESKTOP ? 'Desktop 19.4.1-54985' : 'Server 7.0.13-1029',
        OS: DESKTOP ? 'Mac OS X 14.5(23F79)' : 'Virtuozzo Linux release 7.9',
        'VM home': DESKTOP ? '/Users/fake/Parallels' : '/vz/vmprivate',
        License: { state: 'valid' },
      };
      return opts.json ? json(info) : out(Object.entries(info).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join('\n'));
    }
    if (action === 'cttemplate' && !DESKTOP) {
      const [sub, ...more] = rest;
      if (sub !== 'list') fail(1, `Invalid action: cttemplate ${sub || ''}`.trim());
      const { opts, positional } = parse(more, { json: flag('j') });
      if (positional.length) fail(1, `Unrecognized option: ${positional[0]}`);
      const rows = state.osTemplates.map((t) => ({ name: t.name, type: t.type, arch: t.arch, cached: t.cached, description: '' }));
      return opts.json ? json(rows) : out(rows.map((r) => `${r.name} ${r.type} ${r.arch} ${r.cached}`).join('\n'));
    }
    fail(1, `Invalid action: ${action || ''}`.trim());
  });
}

function main(tool) {
  const argv = process.argv.slice(2);
  try {
    log(tool, argv);
    if (tool === 'prlctl') prlctl(argv);
    else prlsrvctl(argv);
    process.exitCode = 0;
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
    process.stderr.write(`${e.message}\n`);
    process.exitCode = e.code;
  }
}

module.exports = { main };
