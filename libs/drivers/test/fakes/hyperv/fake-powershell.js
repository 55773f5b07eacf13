'use strict';
// A fake Windows PowerShell 5.1 host with Hyper-V, for tests. It does not interpret PowerShell:
// it accepts exactly `powershell -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass
// -File <script.ps1> -Param value …`, reads the real script file, binds the arguments against
// that file's own param() block (so the fake and the scripts cannot drift), refuses syntax
// Windows PowerShell 5.1 lacks and Hyper-V cmdlets that are not module-qualified, and then
// emulates the script by its file name, one cmdlet at a time — each emulated cmdlet must appear
// in the script's text, or the fake says so and fails.
//
// State: $FAKE_HV_STATE/state.json (VMs by GUID, host facts, faults); every call is logged to
// calls.log and every emulated cmdlet to cmdlets.log (one JSON array per line). Disks are real
// files (New-VHD writes one; Remove-VM, like Hyper-V's, leaves them). FAKE_HV_NOISE=1 prints
// a WARNING line before the frame, as cmdlets do.

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const PREFIX = ['-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File'];
const GUID = /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;
const VMMS_DOWN = "Hyper-V encountered an error trying to access an object on computer 'HV01' because the object was not found. The object might have been deleted, or you might not have permission to perform the task. Verify that the Virtual Machine Management service on the computer is running.";

class Exit extends Error {
  constructor(code, message, stream) {
    super(message);
    this.code = code;
    this.stream = stream || 'stderr';
  }
}

function fail(code, message) {
  throw new Exit(code, message);
}

// --- state ---------------------------------------------------------------------------------

function stateDir() {
  const dir = process.env.FAKE_HV_STATE;
  if (!dir) {
    process.stderr.write('fake powershell: FAKE_HV_STATE is not set\n');
    process.exit(2);
  }
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function defaultState() {
  return {
    host: { build: 20348, osVersion: '10.0.20348.0', hostVersion: '10.0.20348.1', moduleAvailable: true, hypervisorPresent: true, vmmsRunning: true },
    vms: {},
    // vmmsDown: the next n calls find VMMS unreachable; invalidState: { 'start.ps1': n } the next
    // n runs of that script meet a VM in a state the cmdlet refuses.
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
      if (Date.now() > deadline) fail(1, 'fake powershell: state lock held too long');
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

function log(file, entry) {
  fs.appendFileSync(path.join(stateDir(), file), `${JSON.stringify(entry)}\n`);
}

// --- the script: its text, its param() block, its syntax -----------------------------------

function withoutComments(text) {
  return text.replace(/(^|\s)#.*$/gm, '$1');
}

/** The script and what it dot-sources from $PSScriptRoot, comments removed. */
function scriptText(file) {
  const raw = fs.readFileSync(file);
  // Windows PowerShell 5.1 reads a file without a BOM in the ANSI code page, not UTF-8.
  if (/[^\x00-\x7f]/.test(raw.toString('latin1')) && !(raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf)) {
    fail(1, `fake powershell: ${file} holds non-ASCII text without a UTF-8 BOM; Windows PowerShell 5.1 would read it as ANSI`);
  }
  let text = withoutComments(raw.toString('utf8'));
  for (const m of text.matchAll(/^\s*\.\s*\(Join-Path \$PSScriptRoot '([\w.-]+\.ps1)'\)/gm)) {
    const dep = path.join(path.dirname(file), m[1]);
    if (!fs.existsSync(dep)) fail(1, `. : The term '${dep}' is not recognized as the name of a cmdlet, function, script file, or operable program.`);
    text += `\n${withoutComments(fs.readFileSync(dep, 'utf8'))}`;
  }
  return text;
}

/** [{ name, type, mandatory, hasDefault }] from the first param( … ) block. */
function paramBlock(text) {
  const start = /\bparam\s*\(/i.exec(text);
  if (!start) return [];
  let depth = 0;
  let i = start.index + start[0].length - 1;
  const from = i + 1;
  for (; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0) break;
  }
  const body = text.slice(from, i);
  const parts = [];
  let cur = '';
  depth = 0;
  for (const ch of body) {
    if (ch === '(' || ch === '[') depth++;
    if (ch === ')' || ch === ']') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) parts.push(cur);
  return parts.map((p) => {
    const attribute = /\[Parameter\(([^)]*)\)\]/i.exec(p);
    const rest = p.replace(/\[Parameter\([^)]*\)\]/i, '');
    const name = /\$(\w+)/.exec(rest);
    const types = [...rest.matchAll(/\[(\w+)\]/g)].map((m) => m[1].toLowerCase());
    if (!name || types.length === 0) fail(1, `ParserError: fake powershell cannot read the parameter ${p.trim()}`);
    return { name: name[1], type: types[types.length - 1], mandatory: attribute !== null && /Mandatory\s*=\s*\$true/i.test(attribute[1]) };
  });
}

const NET_TYPE = { string: 'System.String', guid: 'System.Guid', int: 'System.Int32', int64: 'System.Int64', long: 'System.Int64', switch: 'System.Management.Automation.SwitchParameter' };

/** Binds `-Name value` pairs the way PowerShell does for a script run with -File, but strictly. */
function bind(params, args, scriptFile) {
  const bound = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('-')) fail(1, `${scriptFile} : A positional parameter cannot be found that accepts argument '${a}'.`);
    const name = a.slice(1);
    const p = params.find((x) => x.name === name);
    if (!p) fail(1, `${scriptFile} : A parameter cannot be found that matches parameter name '${name}'.`);
    if (p.name in bound) fail(1, `${scriptFile} : Cannot bind parameter because parameter '${p.name}' is specified more than once.`);
    if (p.type === 'switch') {
      bound[p.name] = true;
      continue;
    }
    const v = args[i + 1];
    if (v === undefined || (v.startsWith('-') && !/^-\d+$/.test(v))) fail(1, `${scriptFile} : Missing an argument for parameter '${p.name}'. Specify a parameter of type '${NET_TYPE[p.type] || p.type}' and try again.`);
    i++;
    bound[p.name] = convert(p, v, scriptFile);
  }
  const missing = params.filter((p) => p.mandatory && !(p.name in bound)).map((p) => p.name);
  if (missing.length) fail(1, `${scriptFile} : Cannot process command because of one or more missing mandatory parameters: ${missing.join(' ')}.`);
  return bound;
}

function convert(p, v, scriptFile) {
  const bad = () => fail(1, `${scriptFile} : Cannot process argument transformation on parameter '${p.name}'. Cannot convert value "${v}" to type "${NET_TYPE[p.type] || p.type}".`);
  switch (p.type) {
    case 'string':
      return v;
    case 'guid':
      return GUID.test(v) ? v.replace(/[{}]/g, '').toLowerCase() : bad();
    case 'int':
      return /^-?\d+$/.test(v) && Math.abs(Number(v)) <= 2147483647 ? Number(v) : bad();
    case 'int64':
    case 'long':
      return /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : bad();
    default:
      return fail(1, `fake powershell: no conversion to [${p.type}] for ${p.name}`);
  }
}

// What Windows PowerShell 5.1's parser refuses (PowerShell 7 accepts), and the habits the scripts keep.
const PS7_ONLY = [
  [/&&|\|\|/, "The token '&&' is not a valid statement separator in this version."],
  [/\?\?=?|\?\./, "Unexpected token '?' in expression or statement."],
  [/-AsArray\b|-EnumsAsStrings\b/, "A parameter cannot be found that matches parameter name 'AsArray' (PowerShell 7 only)."],
  [/ForEach-Object\s+-Parallel\b/, "Parameter set cannot be resolved using the specified named parameters (-Parallel is PowerShell 7 only)."],
];
const HV_CMDLET = /(^|[^\\\w-])((?:Get|Set|New|Remove|Start|Stop|Save|Suspend|Resume|Restore|Checkpoint|Export|Import|Compare|Measure|Rename)-(?:VM\w*|VHD))\b/m;

function lint(text, scriptFile) {
  for (const [re, message] of PS7_ONLY) {
    if (re.test(text)) fail(1, `At ${scriptFile}\nParserError: ${message}`);
  }
  const bare = HV_CMDLET.exec(text);
  if (bare) fail(1, `fake powershell: ${scriptFile} calls ${bare[2]} without its module (write Hyper-V\\${bare[2]}: another module, e.g. VMware PowerCLI, may define it too)`);
  if (!/\$ErrorActionPreference\s*=\s*'Stop'/.test(text)) fail(1, `fake powershell: ${scriptFile} does not set $ErrorActionPreference = 'Stop'`);
}

// --- emulation -----------------------------------------------------------------------------

class Script {
  constructor(name, text, params, state) {
    this.name = name;
    this.text = text;
    this.p = params;
    this.state = state;
  }

  /** One Hyper-V cmdlet: it must be in the script, VMMS must answer, and it is logged. */
  cmdlet(name, ...args) {
    if (!this.text.includes(`Hyper-V\\${name}`)) fail(70, `fake powershell: ${this.name} does not call Hyper-V\\${name}, which this emulation needs`);
    const f = this.state.faults;
    if (f.vmmsDown > 0) {
      f.vmmsDown--;
      this.throwRecord(VMMS_DOWN, `ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.${name.replace('-', '')}`, 'ObjectNotFound');
    }
    const invalid = f.invalidState && f.invalidState[this.name];
    if (invalid > 0 && name !== 'Get-VM' && name !== 'Get-VMHardDiskDrive' && name !== 'Get-VMSnapshot') {
      f.invalidState[this.name]--;
      this.throwRecord(`'${args[0] || 'VM'}' failed to change state. The operation cannot be performed while the object is in its current state.`, `InvalidState,Microsoft.HyperV.PowerShell.Commands.${name.replace('-', '')}`, 'InvalidOperation');
    }
    log('cmdlets.log', [name, ...args]);
  }

  requires(fragment) {
    if (!this.text.includes(fragment)) fail(70, `fake powershell: ${this.name} no longer contains "${fragment}", which this emulation needs`);
  }

  /** What the script's catch does with an ErrorRecord: an error frame and exit 1. */
  throwRecord(message, fqid, category) {
    throw new Exit(1, frame('ERROR', { code: 'Failed', message, fqid, category }), 'stdout');
  }

  refuse(code, message) {
    throw new Exit(1, frame('ERROR', { code, message, fqid: '', category: '' }), 'stdout');
  }

  vm(id) {
    this.cmdlet('Get-VM');
    const vm = this.state.vms[id];
    if (!vm) this.refuse('NotFound', `no virtual machine with id ${id}`);
    return vm;
  }

  /** ConvertTo-HpVm. */
  out(vm) {
    this.cmdlet('Get-VMHardDiskDrive', vm.id);
    // `passing`: states the VM shows on the next reads before its own (Starting, Stopping, …).
    const shown = vm.passing && vm.passing.length ? vm.passing.shift() : vm.state;
    return { id: vm.id, name: vm.name, state: shown, generation: vm.generation, processorCount: vm.processorCount, memoryStartupBytes: vm.memoryStartupBytes, path: vm.path, uptimeSeconds: vm.state === 'Running' ? 42 : 0, disks: [...vm.disks] };
  }
}

function frame(kind, value) {
  return `===HP-BEGIN-${kind}===\n${JSON.stringify(value)}\n===HP-END-${kind}===`;
}

function checkpointOut(c) {
  return { name: c.name, id: c.id, createdAt: c.createdAt };
}

const SCRIPTS = {
  'probe.ps1'(s) {
    const h = s.state.host;
    const result = { build: h.build, osVersion: h.osVersion, moduleAvailable: h.moduleAvailable, hypervisorPresent: h.hypervisorPresent, vmmsRunning: h.vmmsRunning, hostVersion: '', templates: [] };
    if (h.moduleAvailable && h.vmmsRunning) {
      s.cmdlet('Get-VMHost');
      result.hostVersion = h.hostVersion;
    }
    const dir = s.p.TemplateDir;
    if (fs.existsSync(dir) && fs.statSync(dir).isDirectory()) {
      result.templates = fs.readdirSync(dir).filter((f) => /\.vhdx$/i.test(f)).sort().map((f) => ({ name: f.replace(/\.vhdx$/i, ''), path: path.join(dir, f), sizeBytes: fs.statSync(path.join(dir, f)).size }));
    }
    return result;
  },

  'get.ps1'(s) {
    return s.out(s.vm(s.p.VmId));
  },

  'list.ps1'(s) {
    s.cmdlet('Get-VM');
    return Object.values(s.state.vms).filter((v) => v.name.startsWith(s.p.NamePrefix)).map((v) => s.out(v));
  },

  'create.ps1'(s) {
    const { Name, BaseVhdx, InstanceDir, ProcessorCount, MemoryBytes } = s.p;
    if (!fs.existsSync(BaseVhdx)) s.refuse('TemplateMissing', `base disk ${BaseVhdx} does not exist`);
    s.cmdlet('Get-VM');
    const taken = Object.values(s.state.vms).find((v) => v.name === Name);
    if (taken) s.refuse('Conflict', `a virtual machine named ${Name} exists (${taken.id})`);
    fs.mkdirSync(InstanceDir, { recursive: true });
    const disk = path.join(InstanceDir, 'disk.vhdx');
    s.requires('-Differencing');
    s.requires('-ParentPath');
    s.cmdlet('New-VHD', disk, '-ParentPath', BaseVhdx, '-Differencing');
    fs.rmSync(disk, { force: true });
    fs.writeFileSync(disk, JSON.stringify({ type: 'differencing', parent: BaseVhdx }));
    s.requires('Generation = 2');
    s.cmdlet('New-VM', Name, '-Generation', '2');
    const id = crypto.randomUUID();
    // New-VM -Path P keeps the configuration under P\Virtual Machines.
    const config = path.join(InstanceDir, 'Virtual Machines', `${id.toUpperCase()}.vmcx`);
    fs.mkdirSync(path.dirname(config), { recursive: true });
    fs.writeFileSync(config, '');
    const vm = { id, name: Name, state: 'Off', generation: 2, processorCount: 1, memoryStartupBytes: MemoryBytes, path: InstanceDir, config, disks: [disk], checkpoints: [], switchName: s.p.SwitchName || '' };
    s.state.vms[id] = vm;
    s.cmdlet('Set-VMProcessor', id, '-Count', String(ProcessorCount));
    vm.processorCount = ProcessorCount;
    s.cmdlet('Set-VMMemory', id, '-StartupBytes', String(MemoryBytes));
    if (s.p.GuestOs === 'linux') s.cmdlet('Set-VMFirmware', id, '-SecureBootTemplate', 'MicrosoftUEFICertificateAuthority');
    s.cmdlet('Set-VM', id, '-CheckpointType', 'Standard');
    return s.out(vm);
  },

  'start.ps1'(s) {
    const vm = s.vm(s.p.VmId);
    if (vm.state === 'Paused') {
      s.cmdlet('Resume-VM', vm.id);
      vm.state = 'Running';
    } else if (vm.state !== 'Running') {
      s.cmdlet('Start-VM', vm.id);
      vm.state = 'Running';
    }
    return s.out(vm);
  },

  'stop.ps1'(s) {
    const vm = s.vm(s.p.VmId);
    let escalated = false;
    if (vm.state === 'Saved') {
      s.cmdlet('Remove-VMSavedState', vm.id);
      vm.state = 'Off';
    } else if (vm.state !== 'Off') {
      const graceful = !s.p.TurnOff && vm.state === 'Running';
      if (graceful) {
        s.requires('-AsJob');
        s.cmdlet('Stop-VM', vm.id);
        if (vm.hangOnShutdown) {
          // The guest ignores the shutdown request: the job runs past the script's deadline.
          sleepMs(Math.min(s.p.TimeoutSeconds, 30) * 1000);
          escalated = true;
        } else vm.state = 'Off';
      }
      if (!graceful || escalated) {
        s.requires('-TurnOff');
        s.cmdlet('Stop-VM', vm.id, '-TurnOff');
        vm.state = 'Off';
      }
    }
    return { ...s.out(vm), escalated };
  },

  'save.ps1'(s) {
    const vm = s.vm(s.p.VmId);
    if (vm.state === 'Off') s.refuse('Conflict', `${vm.id} is Off; only a running VM can be saved`);
    if (vm.state !== 'Saved') {
      s.cmdlet('Save-VM', vm.id);
      vm.state = 'Saved';
    }
    return s.out(vm);
  },

  'resume.ps1'(s) {
    const vm = s.vm(s.p.VmId);
    if (vm.state === 'Off') s.refuse('Conflict', `${vm.id} is Off; start it instead`);
    if (vm.state === 'Saved') {
      s.cmdlet('Start-VM', vm.id);
      vm.state = 'Running';
    } else if (vm.state === 'Paused') {
      s.cmdlet('Resume-VM', vm.id);
      vm.state = 'Running';
    }
    return s.out(vm);
  },

  'resize.ps1'(s) {
    const vm = s.vm(s.p.VmId);
    if (vm.state !== 'Off') s.refuse('Conflict', `${vm.id} is ${vm.state}; a Hyper-V VM is resized while Off`);
    s.cmdlet('Set-VMProcessor', vm.id, '-Count', String(s.p.ProcessorCount));
    vm.processorCount = s.p.ProcessorCount;
    s.cmdlet('Set-VMMemory', vm.id, '-StartupBytes', String(s.p.MemoryBytes));
    vm.memoryStartupBytes = s.p.MemoryBytes;
    return s.out(vm);
  },

  'checkpoint-create.ps1'(s) {
    const vm = s.vm(s.p.VmId);
    s.cmdlet('Get-VMSnapshot', vm.id);
    let c = vm.checkpoints.find((x) => x.name === s.p.SnapshotName);
    if (!c) {
      s.cmdlet('Checkpoint-VM', vm.id, '-SnapshotName', s.p.SnapshotName);
      c = { id: crypto.randomUUID(), name: s.p.SnapshotName, createdAt: new Date().toISOString(), state: vm.state, processorCount: vm.processorCount, memoryStartupBytes: vm.memoryStartupBytes };
      vm.checkpoints.push(c);
      // Writes go to a new differencing disk from now on (.avhdx beside the VHDX).
      const avhdx = path.join(path.dirname(vm.disks[0]), `disk_${c.id.toUpperCase()}.avhdx`);
      fs.writeFileSync(avhdx, JSON.stringify({ type: 'differencing', parent: vm.disks[0] }));
      vm.disks = [avhdx];
      s.cmdlet('Get-VMSnapshot', vm.id);
    }
    return checkpointOut(c);
  },

  'checkpoint-list.ps1'(s) {
    const vm = s.vm(s.p.VmId);
    s.cmdlet('Get-VMSnapshot', vm.id);
    return vm.checkpoints.map(checkpointOut);
  },

  'checkpoint-restore.ps1'(s) {
    const vm = s.vm(s.p.VmId);
    s.cmdlet('Get-VMSnapshot', vm.id);
    const c = vm.checkpoints.find((x) => x.name === s.p.SnapshotName);
    if (!c) s.refuse('NotFound', `${vm.id} has no checkpoint ${s.p.SnapshotName}`);
    s.requires('-Confirm:$false');
    s.cmdlet('Restore-VMSnapshot', vm.id, c.name);
    // A Standard checkpoint holds the VM's memory: a running VM's comes back running as saved.
    vm.state = c.state === 'Running' ? 'Saved' : c.state;
    vm.processorCount = c.processorCount;
    vm.memoryStartupBytes = c.memoryStartupBytes;
    return s.out(vm);
  },

  'checkpoint-delete.ps1'(s) {
    const vm = s.vm(s.p.VmId);
    s.cmdlet('Get-VMSnapshot', vm.id);
    const gone = vm.checkpoints.filter((x) => x.name === s.p.SnapshotName);
    for (const c of gone) {
      s.requires('-Confirm:$false');
      s.cmdlet('Remove-VMSnapshot', vm.id, c.name);
    }
    vm.checkpoints = vm.checkpoints.filter((x) => x.name !== s.p.SnapshotName);
    return { removed: gone.length };
  },

  'delete.ps1'(s) {
    const vm = s.vm(s.p.VmId);
    if (vm.state === 'Saved') {
      s.cmdlet('Remove-VMSavedState', vm.id);
      vm.state = 'Off';
    } else if (vm.state !== 'Off') {
      s.cmdlet('Stop-VM', vm.id, '-TurnOff');
      vm.state = 'Off';
    }
    s.cmdlet('Get-VMHardDiskDrive', vm.id);
    const disks = [...vm.disks];
    s.cmdlet('Remove-VM', vm.id);
    // Hyper-V's Remove-VM deletes the configuration and nothing else: disks stay.
    fs.rmSync(vm.config, { force: true });
    delete s.state.vms[vm.id];
    // Only what the script goes on to remove (itself, or through its Remove-HpPath) goes.
    const after = s.text.slice(s.text.indexOf('Hyper-V\\Remove-VM'));
    const removes = (v) => /\bRemove-Item\b/.test(s.text) && new RegExp(`(Remove-Item -LiteralPath|Remove-HpPath)\\s+\\$${v}\\b`).test(after);
    if (removes('d')) for (const d of disks) fs.rmSync(d, { force: true });
    if (removes('InstanceDir')) fs.rmSync(s.p.InstanceDir, { recursive: true, force: true });
    return { removedDisks: disks };
  },
};

// --- the command line ----------------------------------------------------------------------

function run(argv) {
  for (let i = 0; i < PREFIX.length; i++) {
    if (argv[i] !== PREFIX[i]) {
      // What the driver must never do differently: the same flags, in this order, then -File.
      fail(64, `${argv[i] === undefined ? 'Missing' : `'${argv[i]}' is not`} ${PREFIX[i]} at position ${i + 1}: fake powershell accepts only "powershell ${PREFIX.join(' ')} <script.ps1> -Param value …"`);
    }
  }
  const file = argv[PREFIX.length];
  if (file === undefined) fail(64, 'Missing the argument to -File: specify the path to a .ps1 file.');
  if (!/\.ps1$/i.test(file)) fail(64, `Processing -File '${file}' failed because the file does not have a '.ps1' extension. Specify a valid Windows PowerShell script file name, and then try again.`);
  if (!fs.existsSync(file)) fail(64, `The argument '${file}' to the -File parameter does not exist. Provide the path to an existing '.ps1' file as an argument to the -File parameter.`);
  const name = path.basename(file);
  const emulate = SCRIPTS[name];
  if (!emulate) fail(70, `fake powershell: no emulation for ${name}`);
  const text = scriptText(file);
  lint(text, file);
  const params = bind(paramBlock(text), argv.slice(PREFIX.length + 1), file);
  return withState((state) => {
    const s = new Script(name, text, params, state);
    const result = emulate(s);
    return result;
  });
}

function main() {
  const argv = process.argv.slice(2);
  try {
    log('calls.log', argv);
    const result = run(argv);
    if (process.env.FAKE_HV_NOISE === '1') process.stdout.write('WARNING: The Hyper-V module is loading configuration from a previous session.\n');
    process.stdout.write(`${frame('OUTPUT', result)}\n`);
    process.exitCode = 0;
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
    if (e.stream === 'stdout') process.stdout.write(`${e.message}\n`);
    else process.stderr.write(`${e.message}\n`);
    process.exitCode = e.code;
  }
}

module.exports = { main, paramBlock };
