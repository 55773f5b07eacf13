import { parseEnv } from 'node:util';
import { parseCli, CliContext, UsageError } from './agent-cli';
import { maskSecrets, underRoot } from './plan-runner';
import { envFileContent, installPlan, InstallOptions, servicePaths, uninstallPlan } from './service-plan';

const ENV = { HYPERPLANE_API_URL: 'https://hp.example.com', HYPERPLANE_ENROLLMENT_TOKEN: 'hp_enroll_secret', REDIS_URL: 'redis://:pw@redis.example.com:6379' };
const linuxOpts: InstallOptions = { nodePath: '/usr/bin/node', cliPath: '/usr/lib/node_modules/hyperplane/dist/apps/agent/src/cli/hyperplane-agent.js', env: ENV };
const macOpts: InstallOptions = { nodePath: '/opt/homebrew/bin/node', cliPath: '/opt/homebrew/lib/node_modules/hyperplane/dist/apps/agent/src/cli/hyperplane-agent.js', env: ENV, user: 'ci' };
const winOpts: InstallOptions = {
  nodePath: 'C:\\Program Files\\nodejs\\node.exe',
  cliPath: 'C:\\Users\\Admin\\AppData\\Roaming\\npm\\node_modules\\hyperplane\\dist\\apps\\agent\\src\\cli\\hyperplane-agent.js',
  env: ENV,
  programData: 'C:\\ProgramData',
  systemRoot: 'C:\\Windows',
};
const file = (plan: ReturnType<typeof installPlan>, end: string) => plan.files.find((f) => f.path.endsWith(end))!;

describe('the agent service, planned for each OS', () => {
  it('puts data and logs where each OS expects them', () => {
    expect(servicePaths('linux')).toMatchObject({ data: '/var/lib/hyperplane-agent', envFile: '/etc/hyperplane-agent/agent.env', serviceFile: '/etc/systemd/system/hyperplane-agent.service' });
    expect(servicePaths('macos')).toMatchObject({ data: '/Library/Application Support/Hyperplane', logs: '/Library/Logs/Hyperplane', serviceFile: '/Library/LaunchDaemons/dev.hyperplane.agent.plist' });
    expect(envFileContent({})).toBeTruthy();
    expect(installPlan('windows', winOpts).files[0]!.content).toContain('HYPERPLANE_IMAGE_DIR=C:\\ProgramData\\Hyperplane\\data\\images\n');
    expect(servicePaths('windows', { programData: 'D:\\ProgramData' })).toMatchObject({ data: 'D:\\ProgramData\\Hyperplane\\data', logs: 'D:\\ProgramData\\Hyperplane\\logs', envFile: 'D:\\ProgramData\\Hyperplane\\agent.env' });
  });

  it('writes the environment readable only by the service user, with the data directory the service uses', () => {
    for (const [os, o] of [['linux', linuxOpts], ['macos', macOpts], ['windows', winOpts]] as const) {
      const plan = installPlan(os, o);
      const env = plan.files.find((f) => f.path === plan.paths.envFile)!;
      expect([os, env.mode, env.secret]).toEqual([os, 0o600, true]);
      expect(env.content).toContain('HYPERPLANE_ENROLLMENT_TOKEN=hp_enroll_secret\n');
      expect(env.content).toContain(`HYPERPLANE_DATA_DIR=${plan.paths.data}\n`);
      expect(env.content).toContain('HYPERPLANE_LOCAL_AGENT=true\n');
      // What the agent's process.loadEnvFile reads back: the values exactly, Windows paths and spaces included.
      expect(parseEnv(env.content)).toEqual({ ...ENV, HYPERPLANE_DATA_DIR: plan.paths.data, HYPERPLANE_IMAGE_DIR: expect.stringMatching(/^(\/|C:\\).*images$/), HYPERPLANE_LOCAL_AGENT: 'true' });
    }
  });

  it('Linux: a systemd unit that runs the agent as root and leaves its instances alone when it stops', () => {
    const plan = installPlan('linux', linuxOpts);
    const unit = file(plan, 'hyperplane-agent.service').content;
    expect(unit).toContain('ExecStart=/usr/bin/node /usr/lib/node_modules/hyperplane/dist/apps/agent/src/cli/hyperplane-agent.js run --env-file /etc/hyperplane-agent/agent.env\n');
    expect(unit).toMatch(/^KillMode=process$/m);
    expect(unit).toMatch(/^Restart=always$/m);
    expect(unit).toMatch(/^WantedBy=multi-user.target$/m);
    expect(unit).not.toMatch(/^User=/m);
    expect(plan.commands.map((c) => c.argv)).toEqual([
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', '--now', 'hyperplane-agent.service'],
    ]);
    expect(installPlan('linux', { ...linuxOpts, noStart: true }).commands[1]!.argv).toEqual(['systemctl', 'enable', 'hyperplane-agent.service']);
  });

  it('Linux: quotes ExecStart words as systemd reads them', () => {
    const unit = file(installPlan('linux', { ...linuxOpts, cliPath: '/opt/my apps/100%/$x/cli.js' }), '.service').content;
    expect(unit).toContain('ExecStart=/usr/bin/node "/opt/my apps/100%%/$$x/cli.js" run');
  });

  it('macOS: a LaunchDaemon that runs as the Mac user who owns the Parallels VMs, logging to /Library/Logs', () => {
    const plan = installPlan('macos', macOpts);
    const plist = file(plan, 'dev.hyperplane.agent.plist').content;
    expect(plist).toContain('<key>Label</key>\n  <string>dev.hyperplane.agent</string>');
    expect(plist).toContain('<key>UserName</key>\n  <string>ci</string>');
    expect(plist).toContain('<string>/Library/Application Support/Hyperplane/agent.env</string>');
    expect(plist).toContain('<key>StandardOutPath</key>\n  <string>/Library/Logs/Hyperplane/agent.log</string>');
    expect(plist).toMatch(/<key>KeepAlive<\/key>\s*<true\/>/);
    expect(plan.commands.map((c) => c.argv)).toEqual([
      ['/usr/sbin/chown', '-R', 'ci:staff', '/Library/Application Support/Hyperplane', '/Library/Logs/Hyperplane'],
      ['/usr/sbin/chown', 'root:wheel', '/Library/LaunchDaemons/dev.hyperplane.agent.plist'],
      ['/bin/launchctl', 'bootout', 'system/dev.hyperplane.agent'],
      ['/bin/launchctl', 'bootstrap', 'system', '/Library/LaunchDaemons/dev.hyperplane.agent.plist'],
    ]);
    expect(() => installPlan('macos', { ...macOpts, user: undefined })).toThrow(/--user is required/);
    expect(() => installPlan('macos', { ...macOpts, user: 'root' })).toThrow(/not root/);
    expect(file(installPlan('macos', { ...macOpts, cliPath: '/Users/a&b/<cli>.js' }), '.plist').content).toContain('<string>/Users/a&amp;b/&lt;cli&gt;.js</string>');
  });

  it('Windows: a service wrapper built with the system’s csc.exe, registered with sc.exe, its directory closed to other users first', () => {
    const plan = installPlan('windows', winOpts);
    expect(plan.paths.serviceFile).toBe('C:\\ProgramData\\Hyperplane\\service\\hyperplane-agent-service.exe');
    const args = file(plan, 'hyperplane-agent-service.args').content.split('\r\n');
    expect(args).toEqual([
      'C:\\ProgramData\\Hyperplane\\logs\\agent.log',
      'C:\\Program Files\\nodejs\\node.exe',
      winOpts.cliPath,
      'run',
      '--env-file',
      'C:\\ProgramData\\Hyperplane\\agent.env',
      '--stop-on-stdin-close',
      '',
    ]);
    expect(file(plan, '.cs').content).toContain('ServiceName = "HyperplaneAgent"');
    const argv = plan.commands.map((c) => c.argv);
    expect(argv[0]).toEqual(['C:\\Windows\\System32\\icacls.exe', 'C:\\ProgramData\\Hyperplane', '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F']);
    expect(plan.commands[0]!.beforeFiles).toBe(true);
    expect(argv).toContainEqual([
      'C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe',
      '/nologo',
      '/target:exe',
      '/optimize+',
      '/out:C:\\ProgramData\\Hyperplane\\service\\hyperplane-agent-service.exe',
      '/reference:System.ServiceProcess.dll',
      'C:\\ProgramData\\Hyperplane\\service\\hyperplane-agent-service.cs',
    ]);
    expect(argv).toContainEqual([
      'C:\\Windows\\System32\\sc.exe',
      'create',
      'HyperplaneAgent',
      'binPath=',
      '"C:\\ProgramData\\Hyperplane\\service\\hyperplane-agent-service.exe"',
      'start=',
      'auto',
      'obj=',
      'LocalSystem',
      'DisplayName=',
      'Hyperplane agent',
    ]);
    // The previous wrapper is stopped (and waited for) before it is rebuilt; the new one started last.
    const names = argv.map((a) => `${a[0]!.split('\\').pop()} ${a[1]}`);
    expect(names).toEqual(['icacls.exe C:\\ProgramData\\Hyperplane', 'sc.exe stop', 'sc.exe query', 'csc.exe /nologo', 'sc.exe delete', 'sc.exe create', 'sc.exe description', 'sc.exe failure', 'sc.exe start']);
    expect(plan.commands[2]!.until).toEqual({ pattern: 'STOPPED|1060', timeoutS: 60 });
  });

  it('uninstalls each OS’s service, keeping the data unless purged', () => {
    expect(uninstallPlan('linux').remove).toEqual(['/etc/systemd/system/hyperplane-agent.service']);
    expect(uninstallPlan('linux', { purge: true }).remove).toEqual(['/etc/systemd/system/hyperplane-agent.service', '/etc/hyperplane-agent/agent.env', '/etc/hyperplane-agent', '/var/lib/hyperplane-agent']);
    expect(uninstallPlan('macos').commands.map((c) => c.argv)).toEqual([['/bin/launchctl', 'bootout', 'system/dev.hyperplane.agent']]);
    expect(uninstallPlan('macos', { purge: true }).remove).toEqual(['/Library/LaunchDaemons/dev.hyperplane.agent.plist', '/Library/Application Support/Hyperplane', '/Library/Logs/Hyperplane']);
    const win = uninstallPlan('windows', { purge: true });
    expect(win.commands.map((c) => c.argv.slice(1))).toEqual([['stop', 'HyperplaneAgent'], ['query', 'HyperplaneAgent'], ['delete', 'HyperplaneAgent']]);
    expect(win.remove).toEqual(['C:\\ProgramData\\Hyperplane\\service', 'C:\\ProgramData\\Hyperplane']);
  });

  it('refuses environment values that would change the file’s meaning', () => {
    expect(() => envFileContent({ REDIS_URL: 'redis://x\nHYPERPLANE_LOCAL_AGENT=false' })).toThrow(/REDIS_URL/);
    expect(() => envFileContent({ 'bad-key': 'x' })).toThrow(/bad-key/);
    expect(() => envFileContent({ A: ' padded' })).toThrow(/blanks/);
    expect(() => envFileContent({ REDIS_URL: 'redis://:p#w@h' })).toThrow(/#/);
    expect(envFileContent({ B: '2', A: '1' })).toMatch(/\nA=1\nB=2\n$/);
  });

  it('masks tokens and URL passwords in a dry run', () => {
    expect(maskSecrets(envFileContent(ENV))).toContain('HYPERPLANE_ENROLLMENT_TOKEN=…\n');
    expect(maskSecrets(envFileContent(ENV))).toContain('REDIS_URL=redis://…@redis.example.com:6379\n');
    expect(maskSecrets(envFileContent(ENV))).toContain('HYPERPLANE_API_URL=https://hp.example.com\n');
    expect(underRoot('/tmp/r', 'C:\\ProgramData\\Hyperplane\\agent.env')).toBe('/tmp/r/C/ProgramData/Hyperplane/agent.env');
    expect(underRoot('/tmp/r', '/etc/x')).toBe('/tmp/r/etc/x');
  });
});

describe('hyperplane-agent arguments', () => {
  const ctx: CliContext = { platform: 'linux', env: {}, nodePath: '/usr/bin/node', cliPath: '/x/hyperplane-agent.js' };
  const install = ['install', '--api-url', 'https://hp.example.com', '--redis-url', 'redis://r:6379', '--enrollment-token', 'tok'];

  it('runs the agent by default, as npm run start:agent does', () => {
    expect(parseCli([], ctx)).toEqual({ kind: 'run', envFile: undefined, stopOnStdinClose: false });
    expect(parseCli(['--env-file', '/etc/hyperplane-agent/agent.env'], ctx)).toMatchObject({ kind: 'run', envFile: '/etc/hyperplane-agent/agent.env' });
    expect(parseCli(['run', '--stop-on-stdin-close'], ctx)).toMatchObject({ kind: 'run', stopOnStdinClose: true });
  });

  it('plans the install for this OS, or another with --dry-run', () => {
    expect(parseCli(install, ctx)).toMatchObject({ kind: 'install', dryRun: false, plan: { os: 'linux' } });
    expect(parseCli([...install, '--os', 'windows', '--dry-run'], { ...ctx, env: { ProgramData: 'E:\\PD' } })).toMatchObject({ plan: { os: 'windows', paths: { data: 'E:\\PD\\Hyperplane\\data' } } });
    expect(parseCli([...install, '--os', 'macos', '--dry-run'], { ...ctx, env: { SUDO_USER: 'alice' } })).toMatchObject({ plan: { os: 'macos' } });
    const env = (parseCli([...install, '--env', 'HYPERPLANE_PRLCTL=/usr/bin/prlctl'], ctx) as { plan: { files: { content: string }[] } }).plan.files[0]!.content;
    expect(env).toContain('HYPERPLANE_PRLCTL=/usr/bin/prlctl\n');
  });

  it('refuses what it cannot do, naming the flag or variable', () => {
    const refuse = (argv: string[], why: RegExp) => expect(() => parseCli(argv, ctx)).toThrow(why);
    refuse(['install', '--redis-url', 'redis://r'], /--api-url/);
    refuse(['install', '--api-url', 'https://x'], /--redis-url/);
    refuse([...install, '--os', 'windows'], /--dry-run or --root/);
    refuse([...install, '--os', 'beos', '--dry-run'], /--os must be one of/);
    refuse([...install, '--purge'], /install takes no --purge/);
    refuse(['run', '--api-url', 'x'], /run takes no --api-url/);
    refuse([...install, '--env', 'HYPERPLANE_DATA_DIR=/x'], /the service sets it/);
    refuse([...install, '--env', 'HYPERPLANE_HEARTBEAT_INTERVAL_S=soon'], /HYPERPLANE_HEARTBEAT_INTERVAL_S/);
    refuse(['install', '--api-url', 'x', '--redis-url', 'http://not-redis'], /REDIS_URL/);
    refuse(['frobnicate'], /unknown command frobnicate/);
    refuse(['install', '--bogus'], /bogus/);
    expect(() => parseCli(['frobnicate'], ctx)).toThrow(UsageError);
  });
});
