import { Arch } from '@hyperplane/domain';

/** What an agent says about its OS, read from the OS's own tools. */
export interface OsFacts {
  osVersion: string;
  kernel: string;
  arch: Arch;
  /** The CPU's name as the OS gives it ("Apple M2 Pro", "Intel(R) Xeon(R) …"), when known. */
  cpu?: string;
}

/** `KEY=value` lines of os-release(5): values may be quoted, with backslash escapes inside quotes. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let value = m[2]!.trim();
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\(["\\`$])/g, '$1');
    }
    out[m[1]!] = value;
  }
  return out;
}

/** Linux: the distribution from os-release (PRETTY_NAME, else NAME VERSION), the kernel from uname. */
export function linuxFacts(osRelease: string | null, release: string, arch: Arch, cpu?: string): OsFacts {
  const fields = osRelease ? parseOsRelease(osRelease) : {};
  const name = fields.PRETTY_NAME || [fields.NAME, fields.VERSION ?? fields.VERSION_ID].filter(Boolean).join(' ') || 'Linux';
  return { osVersion: name, kernel: release, arch, cpu };
}

/** `Key:<tabs>value` lines, as `sw_vers` prints them. */
function colonLines(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Za-z]+):\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/**
 * macOS: the version from `sw_vers` ("macOS 15.1 (24B83)"), the chip from
 * `sysctl -n machdep.cpu.brand_string`, and the architecture from `sysctl -n hw.optional.arm64`:
 * a Node built for x86_64 runs under Rosetta on Apple silicon and would call the Mac x86_64.
 */
export function macosFacts(input: { swVers: string | null; brand: string | null; arm64: string | null; release: string; nodeArch: Arch }): OsFacts {
  const v = input.swVers ? colonLines(input.swVers) : {};
  const product = v.ProductName === 'Mac OS X' ? 'macOS' : v.ProductName || 'macOS';
  const osVersion = v.ProductVersion ? `${product} ${v.ProductVersion}${v.BuildVersion ? ` (${v.BuildVersion})` : ''}` : `macOS (Darwin ${input.release})`;
  // null: sysctl could not run; '' or '0': an Intel Mac (the key is missing there).
  const arch: Arch = input.arm64 === null ? input.nodeArch : input.arm64.trim() === '1' ? 'arm64' : 'x86_64';
  const cpu = input.brand?.trim() || undefined;
  return { osVersion, kernel: input.release, arch, cpu };
}

/** The values of one key in `reg query` output: `    Name    REG_SZ    value` lines. */
export function parseRegQuery(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^ {4}(.+?) {4}(REG_[A-Z_]+)(?: {4}(.*))?$/.exec(line);
    if (!m) continue;
    const raw = (m[3] ?? '').trim();
    // DWORDs print as hex (UBR    REG_DWORD    0xa8c); say them in decimal.
    out[m[1]!] = m[2] === 'REG_DWORD' && /^0x[0-9a-f]+$/i.test(raw) ? String(parseInt(raw, 16)) : raw;
  }
  return out;
}

/**
 * Windows: the edition and build from the registry (`HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`):
 * "Windows Server 2022 Datacenter (10.0.20348.2700)" and kernel 10.0.20348.2700. The build is
 * what decides which Windows container images run with process isolation. Without the
 * registry, `os.release()` (10.0.20348) still gives the build.
 */
export function windowsFacts(input: { regQuery: string | null; release: string; arch: Arch; cpu?: string }): OsFacts {
  const reg = input.regQuery ? parseRegQuery(input.regQuery) : {};
  const fromRelease = /^(\d+)\.(\d+)\.(\d+)/.exec(input.release);
  const major = reg.CurrentMajorVersionNumber ?? fromRelease?.[1] ?? '10';
  const minor = reg.CurrentMinorVersionNumber ?? fromRelease?.[2] ?? '0';
  const build = reg.CurrentBuildNumber ?? reg.CurrentBuild ?? fromRelease?.[3];
  if (!build) return { osVersion: `Windows ${input.release}`, kernel: input.release, arch: input.arch, cpu: input.cpu };
  const kernel = `${major}.${minor}.${build}${reg.UBR ? `.${reg.UBR}` : ''}`;
  let product = reg.ProductName || 'Windows';
  // Windows 11 kept "Windows 10" in ProductName; its builds start at 22000.
  if (/^Windows 10\b/.test(product) && Number(build) >= 22000) product = product.replace(/^Windows 10/, 'Windows 11');
  const display = reg.DisplayVersion ? ` ${reg.DisplayVersion}` : '';
  return { osVersion: `${product}${display} (${kernel})`, kernel, arch: input.arch, cpu: input.cpu };
}
