import { posix, win32 } from 'node:path';
import { OsFamily } from '@hyperplane/domain';
import { windowsServiceSource } from './windows-service.source';

/** What `hyperplane-agent install` is asked for. */
export interface InstallOptions {
  /** The node binary the service runs (the one running the installer). */
  nodePath: string;
  /** This CLI's own script, which the service runs with `run`. */
  cliPath: string;
  /** Environment the agent gets: HYPERPLANE_API_URL, HYPERPLANE_ENROLLMENT_TOKEN, REDIS_URL, … */
  env: Record<string, string>;
  /** macOS: the user the daemon runs as (Parallels Desktop VMs belong to a user). */
  user?: string;
  /** Windows: %ProgramData% (default C:\ProgramData) and %SystemRoot% (default C:\Windows). */
  programData?: string;
  systemRoot?: string;
  /** Leave the service installed but not started. */
  noStart?: boolean;
}

export interface UninstallOptions {
  /** Also remove the data (the agent's enrollment and driver state), the logs and the env file. */
  purge?: boolean;
  programData?: string;
  systemRoot?: string;
}

export interface PlannedDir {
  path: string;
  /** POSIX mode; Windows directories get their ACL from a command instead. */
  mode?: number;
}

export interface PlannedFile {
  path: string;
  content: string;
  mode: number;
  /** Holds a credential: a dry run prints its names, not its values. */
  secret?: boolean;
}

export interface PlannedCommand {
  argv: string[];
  /** Why it runs, shown in a dry run and in an error. */
  why: string;
  /** Exit codes that are fine (default [0]): stopping a service that does not run, say. */
  okCodes?: number[];
  /** Run before the files are written (an ACL that must hold before a secret lands). */
  beforeFiles?: boolean;
  /** Repeat (every 500 ms, at most `timeoutS`) until the output matches: a service that takes a moment to stop. */
  until?: { pattern: string; timeoutS: number };
}

export interface ServicePlan {
  os: OsFamily;
  /** Where the agent keeps its state, its logs, and where its environment is written. */
  paths: { data: string; logs: string; envFile: string; serviceFile: string };
  dirs: PlannedDir[];
  files: PlannedFile[];
  commands: PlannedCommand[];
  /** Paths to remove (uninstall), files before directories. */
  remove: string[];
}

export const SERVICE_NAME = 'hyperplane-agent';
export const LAUNCHD_LABEL = 'dev.hyperplane.agent';
export const WINDOWS_SERVICE = 'HyperplaneAgent';
const DESCRIPTION = 'Hyperplane agent: runs this host’s containers and VMs for the Hyperplane control plane';

/** Where each OS expects a service's files. */
export function servicePaths(os: OsFamily, o: { programData?: string } = {}): ServicePlan['paths'] {
  switch (os) {
    case 'linux':
      return {
        data: '/var/lib/hyperplane-agent',
        logs: 'journald (journalctl -u hyperplane-agent)',
        envFile: '/etc/hyperplane-agent/agent.env',
        serviceFile: '/etc/systemd/system/hyperplane-agent.service',
      };
    case 'macos':
      return {
        data: '/Library/Application Support/Hyperplane',
        logs: '/Library/Logs/Hyperplane',
        envFile: '/Library/Application Support/Hyperplane/agent.env',
        serviceFile: `/Library/LaunchDaemons/${LAUNCHD_LABEL}.plist`,
      };
    case 'windows': {
      const base = win32.join(o.programData ?? 'C:\\ProgramData', 'Hyperplane');
      return {
        data: win32.join(base, 'data'),
        logs: win32.join(base, 'logs'),
        envFile: win32.join(base, 'agent.env'),
        serviceFile: win32.join(base, 'service', 'hyperplane-agent-service.exe'),
      };
    }
  }
}

const ENV_KEY = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * KEY=value lines that both Node's `process.loadEnvFile` and a person can read. Values are
 * refused rather than escaped when they could change the file's meaning (a newline, a quote, a #).
 */
export function envFileContent(env: Record<string, string>): string {
  const lines = ['# Written by `hyperplane-agent install`; the agent reads it at start (`run --env-file`).'];
  for (const [key, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!ENV_KEY.test(key)) throw new Error(`${key} is not an environment variable name`);
    const control = [...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
    // Node's parser starts a comment at `#` and a quoted value at a quote; backslashes (Windows paths) are literal.
    if (control || /["'`#]/.test(value) || value !== value.trim()) throw new Error(`${key}: the value has a quote, a #, a control character or surrounding blanks`);
    lines.push(`${key}=${value}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One ExecStart word, quoted as systemd.syntax(7) reads it (`%` and `$` are expanded, so doubled). */
function systemdWord(arg: string): string {
  const escaped = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function runArgs(o: InstallOptions, envFile: string, extra: string[] = []): string[] {
  return [o.nodePath, o.cliPath, 'run', '--env-file', envFile, ...extra];
}

export function systemdUnit(o: InstallOptions, paths: ServicePlan['paths']): string {
  return `[Unit]
Description=${DESCRIPTION}
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart=${runArgs(o, paths.envFile).map(systemdWord).join(' ')}
WorkingDirectory=${paths.data}
StateDirectory=hyperplane-agent
StateDirectoryMode=0700
Restart=always
RestartSec=5
TimeoutStopSec=30
# Stopping or restarting the agent must not stop the containers and VMs it started, which live
# in its cgroup (Incus's unit does the same); it manages their cgroups itself.
KillMode=process
Delegate=yes
LimitNOFILE=1048576

[Install]
WantedBy=multi-user.target
`;
}

export function launchdPlist(o: InstallOptions, paths: ServicePlan['paths'], user: string): string {
  const args = runArgs(o, paths.envFile)
    .map((a) => `    <string>${xml(a)}</string>`)
    .join('\n');
  const log = posix.join(paths.logs, 'agent.log');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
${args}
  </array>
  <key>UserName</key>
  <string>${xml(user)}</string>
  <key>GroupName</key>
  <string>staff</string>
  <key>WorkingDirectory</key>
  <string>${xml(paths.data)}</string>
  <key>EnvironmentVariables</key>
  <dict>
    <key>PATH</key>
    <string>/usr/local/bin:/opt/homebrew/bin:/usr/bin:/bin:/usr/sbin:/sbin</string>
  </dict>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <true/>
  <key>ThrottleInterval</key>
  <integer>5</integer>
  <key>ExitTimeOut</key>
  <integer>30</integer>
  <key>StandardOutPath</key>
  <string>${xml(log)}</string>
  <key>StandardErrorPath</key>
  <string>${xml(log)}</string>
</dict>
</plist>
`;
}

const USER = /^[a-z_][a-z0-9_.-]{0,31}$/i;

/** The whole install, as data: a test checks every OS's plan on any OS. */
export function installPlan(os: OsFamily, o: InstallOptions): ServicePlan {
  for (const key of ['HYPERPLANE_API_URL', 'REDIS_URL']) if (!o.env[key]) throw new Error(`${key} is required (--${key === 'REDIS_URL' ? 'redis-url' : 'api-url'})`);
  const paths = servicePaths(os, o);
  // Absolute paths: a service's working directory is not a checkout (C:\Windows\System32 for a Windows service).
  const images = (os === 'windows' ? win32 : posix).join(paths.data, 'images');
  const env = { HYPERPLANE_IMAGE_DIR: images, ...o.env, HYPERPLANE_DATA_DIR: paths.data, HYPERPLANE_LOCAL_AGENT: 'true' };
  const envFile: PlannedFile = { path: paths.envFile, content: envFileContent(env), mode: 0o600, secret: true };
  switch (os) {
    case 'linux':
      // Root: lxc, qemu with KVM and Virtuozzo's prlctl all need it.
      return {
        os,
        paths,
        dirs: [
          { path: '/etc/hyperplane-agent', mode: 0o700 },
          { path: paths.data, mode: 0o700 },
        ],
        files: [envFile, { path: paths.serviceFile, content: systemdUnit(o, paths), mode: 0o644 }],
        commands: [
          { argv: ['systemctl', 'daemon-reload'], why: 'make systemd read the new unit' },
          { argv: ['systemctl', 'enable', ...(o.noStart ? [] : ['--now']), `${SERVICE_NAME}.service`], why: o.noStart ? 'start the agent at boot' : 'start the agent now and at boot' },
        ],
        remove: [],
      };
    case 'macos': {
      const user = o.user;
      if (!user) throw new Error('--user is required on macOS: the Mac user whose Parallels Desktop VMs the agent manages');
      if (!USER.test(user) || user === 'root') throw new Error(`--user ${user}: give the short name of the Mac user who owns the Parallels Desktop VMs (not root)`);
      return {
        os,
        paths,
        dirs: [
          { path: paths.data, mode: 0o700 },
          { path: paths.logs, mode: 0o750 },
        ],
        // launchd refuses a daemon's plist unless root owns it and only root may write it.
        files: [envFile, { path: paths.serviceFile, content: launchdPlist(o, paths, user), mode: 0o644 }],
        commands: [
          { argv: ['/usr/sbin/chown', '-R', `${user}:staff`, paths.data, paths.logs], why: `the daemon runs as ${user}, who alone reads its environment and state` },
          { argv: ['/usr/sbin/chown', 'root:wheel', paths.serviceFile], why: 'launchd loads only root-owned daemons' },
          // A previous install may be loaded: bootout first (113 = not loaded, 3 = no such process, 5 = I/O error on some releases).
          { argv: ['/bin/launchctl', 'bootout', `system/${LAUNCHD_LABEL}`], why: 'unload a previous install', okCodes: [0, 3, 5, 36, 113] },
          ...(o.noStart ? [] : [{ argv: ['/bin/launchctl', 'bootstrap', 'system', paths.serviceFile], why: 'start the agent now and at boot' }]),
        ],
        remove: [],
      };
    }
    case 'windows': {
      const base = win32.dirname(paths.data);
      const serviceDir = win32.dirname(paths.serviceFile);
      const source = win32.join(serviceDir, 'hyperplane-agent-service.cs');
      const argsFile = win32.join(serviceDir, 'hyperplane-agent-service.args');
      const systemRoot = o.systemRoot ?? 'C:\\Windows';
      const sc = win32.join(systemRoot, 'System32', 'sc.exe');
      // The .NET Framework 4 compiler is part of every Windows Server since 2012; no binary ships with the agent.
      const csc = win32.join(systemRoot, 'Microsoft.NET', 'Framework64', 'v4.0.30319', 'csc.exe');
      // Line 1: the log file; the rest: the agent's argv, one per line (no quoting to get wrong).
      const argLines = [win32.join(paths.logs, 'agent.log'), ...runArgs(o, paths.envFile, ['--stop-on-stdin-close'])];
      if (argLines.some((a) => /[\r\n]/.test(a))) throw new Error('a path holds a line break');
      return {
        os,
        paths,
        dirs: [{ path: base }, { path: paths.data }, { path: paths.logs }, { path: serviceDir }],
        files: [
          envFile,
          { path: source, content: windowsServiceSource(WINDOWS_SERVICE), mode: 0o644 },
          { path: argsFile, content: `${argLines.join('\r\n')}\r\n`, mode: 0o644 },
        ],
        commands: [
          {
            // %ProgramData% lets every user read what it holds; the agent's credential must not be.
            argv: [win32.join(systemRoot, 'System32', 'icacls.exe'), base, '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F'],
            why: 'only SYSTEM and Administrators may read the agent’s environment and state',
            beforeFiles: true,
          },
          { argv: [sc, 'stop', WINDOWS_SERVICE], why: 'stop a previous install (1060: none, 1062: not running)', okCodes: [0, 1060, 1062] },
          // Its wrapper stays locked until it has stopped.
          { argv: [sc, 'query', WINDOWS_SERVICE], why: 'wait for a previous install to stop', okCodes: [0, 1060], until: { pattern: 'STOPPED|1060', timeoutS: 60 } },
          { argv: [csc, '/nologo', '/target:exe', '/optimize+', `/out:${paths.serviceFile}`, '/reference:System.ServiceProcess.dll', source], why: 'build the service wrapper' },
          { argv: [sc, 'delete', WINDOWS_SERVICE], why: 'replace a previous install (1060: none)', okCodes: [0, 1060] },
          {
            argv: [sc, 'create', WINDOWS_SERVICE, 'binPath=', `"${paths.serviceFile}"`, 'start=', 'auto', 'obj=', 'LocalSystem', 'DisplayName=', 'Hyperplane agent'],
            why: 'register the service (LocalSystem: Hyper-V and Docker need an administrator)',
          },
          { argv: [sc, 'description', WINDOWS_SERVICE, DESCRIPTION], why: 'describe it in services.msc' },
          { argv: [sc, 'failure', WINDOWS_SERVICE, 'reset=', '86400', 'actions=', 'restart/5000/restart/5000/restart/30000'], why: 'restart the agent when it fails' },
          ...(o.noStart ? [] : [{ argv: [sc, 'start', WINDOWS_SERVICE], why: 'start the agent now' }]),
        ],
        remove: [],
      };
    }
  }
}

/** The whole uninstall, as data. Keeps the data (the host's enrollment) unless `purge`. */
export function uninstallPlan(os: OsFamily, o: UninstallOptions = {}): ServicePlan {
  const paths = servicePaths(os, o);
  switch (os) {
    case 'linux':
      return {
        os,
        paths,
        dirs: [],
        files: [],
        commands: [
          { argv: ['systemctl', 'disable', '--now', `${SERVICE_NAME}.service`], why: 'stop the agent and remove it from boot', okCodes: [0, 1, 5] },
          { argv: ['systemctl', 'daemon-reload'], why: 'forget the unit', okCodes: [0, 1] },
        ],
        remove: [paths.serviceFile, ...(o.purge ? [paths.envFile, '/etc/hyperplane-agent', paths.data] : [])],
      };
    case 'macos':
      return {
        os,
        paths,
        dirs: [],
        files: [],
        commands: [{ argv: ['/bin/launchctl', 'bootout', `system/${LAUNCHD_LABEL}`], why: 'stop the agent and unload it', okCodes: [0, 3, 5, 36, 113] }],
        remove: [paths.serviceFile, ...(o.purge ? [paths.data, paths.logs] : [])],
      };
    case 'windows': {
      const sc = win32.join(o.systemRoot ?? 'C:\\Windows', 'System32', 'sc.exe');
      const serviceDir = win32.dirname(paths.serviceFile);
      return {
        os,
        paths,
        dirs: [],
        files: [],
        commands: [
          { argv: [sc, 'stop', WINDOWS_SERVICE], why: 'stop the agent', okCodes: [0, 1060, 1062] },
          { argv: [sc, 'query', WINDOWS_SERVICE], why: 'wait for it to stop', okCodes: [0, 1060], until: { pattern: 'STOPPED|1060', timeoutS: 60 } },
          { argv: [sc, 'delete', WINDOWS_SERVICE], why: 'unregister the service', okCodes: [0, 1060] },
        ],
        remove: [serviceDir, ...(o.purge ? [win32.dirname(paths.data)] : [])],
      };
    }
  }
}
