import { linuxFacts, macosFacts, parseOsRelease, parseRegQuery, windowsFacts } from './os-facts';

// Captured from the real tools (values of a Windows Server 2022 host, trimmed of keys we ignore
// but kept in the tool's layout: CRLF lines, four-space columns, subkeys listed after the values).
const REG_SERVER_2022 = [
  '',
  'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion',
  '    SystemRoot    REG_SZ    C:\\Windows',
  '    BuildBranch    REG_SZ    fe_release',
  '    BuildLab    REG_SZ    20348.fe_release.210507-1500',
  '    BuildLabEx    REG_SZ    20348.1.amd64fre.fe_release.210507-1500',
  '    CompositionEditionID    REG_SZ    ServerDatacenter',
  '    CurrentBuild    REG_SZ    20348',
  '    CurrentBuildNumber    REG_SZ    20348',
  '    CurrentMajorVersionNumber    REG_DWORD    0xa',
  '    CurrentMinorVersionNumber    REG_DWORD    0x0',
  '    CurrentType    REG_SZ    Multiprocessor Free',
  '    CurrentVersion    REG_SZ    6.3',
  '    DigitalProductId    REG_BINARY    A40000000300000030303435342D38',
  '    DisplayVersion    REG_SZ    21H2',
  '    EditionID    REG_SZ    ServerDatacenter',
  '    InstallationType    REG_SZ    Server',
  '    InstallDate    REG_DWORD    0x6501f2a3',
  '    ProductName    REG_SZ    Windows Server 2022 Datacenter',
  '    ReleaseId    REG_SZ    2009',
  '    SoftwareType    REG_SZ    System',
  '    UBR    REG_DWORD    0xa8c',
  '    PathName    REG_SZ    C:\\Windows',
  '    ProductId    REG_SZ    00454-60000-00001-AA123',
  '    RegisteredOwner    REG_SZ    Windows User',
  '    RegisteredOrganization    REG_SZ',
  '',
  'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Accessibility',
  'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\AppCompatFlags',
  '',
].join('\r\n');

const REG_WINDOWS_11 = [
  'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion',
  '    CurrentBuildNumber    REG_SZ    22631',
  '    CurrentMajorVersionNumber    REG_DWORD    0xa',
  '    CurrentMinorVersionNumber    REG_DWORD    0x0',
  '    DisplayVersion    REG_SZ    23H2',
  '    ProductName    REG_SZ    Windows 10 Pro',
  '    UBR    REG_DWORD    0x1029',
  '',
].join('\r\n');

const SW_VERS_SEQUOIA = 'ProductName:\t\tmacOS\nProductVersion:\t\t15.1\nBuildVersion:\t\t24B83\n';
const SW_VERS_CATALINA = 'ProductName:\tMac OS X\nProductVersion:\t10.15.7\nBuildVersion:\t19H2026\n';

const OS_RELEASE_UBUNTU = `PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
UBUNTU_CODENAME=noble
`;
const OS_RELEASE_VIRTUOZZO = `NAME="Virtuozzo"
VERSION="7.5.4"
ID="virtuozzo"
ID_LIKE="rhel fedora"
VERSION_ID="7"
ANSI_COLOR="0;31"
`;

describe('OS facts, read from each OS’s own tools', () => {
  describe('Windows', () => {
    it('reads the edition, display version, build and update revision from reg query', () => {
      const reg = parseRegQuery(REG_SERVER_2022);
      expect(reg).toMatchObject({ CurrentBuildNumber: '20348', UBR: '2700', CurrentMajorVersionNumber: '10', ProductName: 'Windows Server 2022 Datacenter', RegisteredOrganization: '' });
      expect(windowsFacts({ regQuery: REG_SERVER_2022, release: '10.0.20348', arch: 'x86_64', cpu: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz' })).toEqual({
        osVersion: 'Windows Server 2022 Datacenter 21H2 (10.0.20348.2700)',
        kernel: '10.0.20348.2700',
        arch: 'x86_64',
        cpu: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz',
      });
    });

    it('calls Windows 11 by its name although its registry still says Windows 10', () => {
      expect(windowsFacts({ regQuery: REG_WINDOWS_11, release: '10.0.22631', arch: 'arm64' })).toMatchObject({
        osVersion: 'Windows 11 Pro 23H2 (10.0.22631.4137)',
        kernel: '10.0.22631.4137',
      });
    });

    it('still knows the build from os.release() when reg cannot run', () => {
      expect(windowsFacts({ regQuery: null, release: '10.0.17763', arch: 'x86_64' })).toEqual({ osVersion: 'Windows (10.0.17763)', kernel: '10.0.17763', arch: 'x86_64', cpu: undefined });
    });
  });

  describe('macOS', () => {
    it('reads the version, build and Apple chip', () => {
      expect(macosFacts({ swVers: SW_VERS_SEQUOIA, brand: 'Apple M2 Pro\n', arm64: '1\n', release: '24.1.0', nodeArch: 'arm64' })).toEqual({
        osVersion: 'macOS 15.1 (24B83)',
        kernel: '24.1.0',
        arch: 'arm64',
        cpu: 'Apple M2 Pro',
      });
    });

    it('calls an Apple-silicon Mac arm64 even when Node runs under Rosetta', () => {
      expect(macosFacts({ swVers: SW_VERS_SEQUOIA, brand: 'Apple M1\n', arm64: '1\n', release: '24.1.0', nodeArch: 'x86_64' }).arch).toBe('arm64');
    });

    it('reads an Intel Mac, where hw.optional.arm64 does not exist', () => {
      expect(macosFacts({ swVers: SW_VERS_CATALINA, brand: 'Intel(R) Core(TM) i9-9980HK CPU @ 2.40GHz\n', arm64: '', release: '19.6.0', nodeArch: 'x86_64' })).toEqual({
        osVersion: 'macOS 10.15.7 (19H2026)',
        kernel: '19.6.0',
        arch: 'x86_64',
        cpu: 'Intel(R) Core(TM) i9-9980HK CPU @ 2.40GHz',
      });
    });

    it('falls back to the Darwin release and Node’s arch when the tools cannot run', () => {
      expect(macosFacts({ swVers: null, brand: null, arm64: null, release: '24.1.0', nodeArch: 'arm64' })).toEqual({ osVersion: 'macOS (Darwin 24.1.0)', kernel: '24.1.0', arch: 'arm64', cpu: undefined });
    });
  });

  describe('Linux', () => {
    it('reads the distribution from os-release and the kernel from uname', () => {
      expect(linuxFacts(OS_RELEASE_UBUNTU, '6.8.0-45-generic', 'x86_64', 'AMD EPYC 7763 64-Core Processor')).toEqual({
        osVersion: 'Ubuntu 24.04.1 LTS',
        kernel: '6.8.0-45-generic',
        arch: 'x86_64',
        cpu: 'AMD EPYC 7763 64-Core Processor',
      });
    });

    it('builds a name from NAME and VERSION when there is no PRETTY_NAME (a Virtuozzo node)', () => {
      expect(linuxFacts(OS_RELEASE_VIRTUOZZO, '3.10.0-1160.80.1.vz7.191.4', 'x86_64').osVersion).toBe('Virtuozzo 7.5.4');
    });

    it('parses quoting and escapes as os-release(5) defines them', () => {
      expect(parseOsRelease('NAME=\'Single quoted\'\nPRETTY_NAME="A \\"quoted\\" name"\n# comment\nBAD LINE\nID=plain')).toEqual({
        NAME: 'Single quoted',
        PRETTY_NAME: 'A "quoted" name',
        ID: 'plain',
      });
      expect(linuxFacts(null, '6.1.0', 'arm64').osVersion).toBe('Linux');
    });
  });
});
