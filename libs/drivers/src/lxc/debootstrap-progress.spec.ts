import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildProgress, DebootstrapProgress } from './debootstrap-progress';

/** debootstrap's standard output for a small build (bookworm, minbase), shortened to 4 packages. */
const PACKAGES = ['adduser 3.134', 'apt 2.6.1', 'base-files 12.4+deb12u5', 'libc6 2.36-9+deb12u4'];
const TRANSCRIPT = [
  'I: Target architecture can be executed',
  'I: Retrieving InRelease ',
  'I: Checking Release signature',
  'I: Valid Release signature (key id 4D64FEC119C2029067D6E791F8D2585B8783D481)',
  'I: Retrieving Packages ',
  'I: Validating Packages ',
  'I: Resolving dependencies of required packages...',
  'I: Resolving dependencies of base packages...',
  'I: Checking component main on http://deb.debian.org/debian...',
  ...PACKAGES.flatMap((p) => [`I: Retrieving ${p}`, `I: Validating ${p}`]),
  'I: Chosen extractor for .deb packages: dpkg-deb',
  ...PACKAGES.slice(0, 3).map((p) => `I: Extracting ${p.split(' ')[0]}...`),
  'I: Installing core packages...',
  'I: Unpacking required packages...',
  ...PACKAGES.slice(0, 3).map((p) => `I: Unpacking ${p.split(' ')[0]}...`),
  'I: Configuring required packages...',
  ...PACKAGES.slice(0, 3).map((p) => `I: Configuring ${p.split(' ')[0]}...`),
  'I: Unpacking the base system...',
  'I: Unpacking libc6...',
  'I: Configuring the base system...',
  'I: Configuring libc6...',
  'I: Base system installed successfully.',
];

function run(lines: string[], expected?: number): BuildProgress[] {
  const parser = new DebootstrapProgress(expected);
  return lines.map((l) => parser.feed(l)).filter((p): p is BuildProgress => p !== null);
}

describe('DebootstrapProgress', () => {
  const reports = run(TRANSCRIPT, 8);
  const steps = reports.map((r) => r.step);

  it('says what debootstrap is doing: index, downloads, extraction, unpacking, configuration', () => {
    expect(steps[0]).toBe('downloading the package index');
    expect(steps).toContain('resolving dependencies');
    expect(steps).toContain('downloading packages (1 so far)');
    expect(steps).toContain('downloading packages (4 so far)');
    expect(steps).toContain('extracting packages (3 of ~4)');
    expect(steps).toContain('installing core packages');
    expect(steps).toContain('unpacking packages (1 of ~4)');
    expect(steps).toContain('configuring packages (3 of ~4)');
    expect(steps.at(-1)).toBe('root filesystem installed');
  });

  it('counts unpacked and configured packages across the required and the base system', () => {
    expect(steps).toContain('unpacking packages (4 of ~4)');
    expect(steps).toContain('configuring packages (4 of ~4)');
  });

  it('goes from 0 to 100 percent, never backwards, within each phase span', () => {
    const percents = reports.map((r) => r.percent);
    expect(percents[0]).toBe(0);
    expect(percents.at(-1)).toBe(100);
    for (let i = 1; i < percents.length; i++) expect(percents[i]).toBeGreaterThanOrEqual(percents[i - 1]!);
    const at = (step: string) => reports.find((r) => r.step === step)!.percent;
    // Downloads are half of the run: 4 of an expected 8 packages is about a quarter of it.
    expect(at('downloading packages (4 so far)')).toBeGreaterThanOrEqual(25);
    expect(at('downloading packages (4 so far)')).toBeLessThan(50);
    expect(at('extracting packages (3 of ~4)')).toBeGreaterThanOrEqual(50);
    expect(at('configuring packages (4 of ~4)')).toBeGreaterThanOrEqual(95);
  });

  it('never claims the downloads are done before they are, even past the expected count', () => {
    const many = Array.from({ length: 30 }, (_, i) => `I: Retrieving pkg${i} 1.0`);
    const last = run(many, 10).at(-1)!;
    expect(last.step).toBe('downloading packages (30 so far)');
    expect(last.percent).toBeLessThan(50);
  });

  it('ignores what is not an I: line (warnings, wget output, blank lines)', () => {
    const parser = new DebootstrapProgress();
    expect(parser.feed('W: Cannot check Release signature; keyring file not available')).toBeNull();
    expect(parser.feed('')).toBeNull();
    expect(parser.feed('2024-06-01 URL:http://deb.debian.org/... [123/123] -> "x" [1]')).toBeNull();
    expect(parser.feed('I: Checking component main on http://deb.debian.org/debian...')).toBeNull();
  });

  // The standard output of a real run (debootstrap 1.0.128, bookworm, minbase with
  // systemd-sysv and iproute2, deb.debian.org): 115 packages, 76 s.
  it('follows a real run from the package index to the installed system', () => {
    const real = readFileSync(join(__dirname, 'debootstrap-bookworm-minbase.fixture.txt'), 'utf8').split('\n');
    const reports = run(real);
    const steps = reports.map((r) => r.step);
    expect(steps).toContain('downloading packages (115 so far)');
    expect(steps).toContain('extracting packages (88 of ~115)');
    expect(steps).toContain('unpacking packages (103 of ~115)');
    expect(steps).toContain('configuring packages (105 of ~115)');
    expect(reports.at(-1)).toEqual({ percent: 100, step: 'root filesystem installed' });
    // Downloads take about half the run; the percent reached as each phase begins:
    const first = (prefix: string) => reports.find((r) => r.step.startsWith(prefix))!.percent;
    expect(first('extracting')).toBeGreaterThanOrEqual(45);
    expect(first('unpacking')).toBeGreaterThanOrEqual(60);
    expect(first('configuring')).toBeGreaterThanOrEqual(78);
    for (let i = 1; i < reports.length; i++) expect(reports[i]!.percent).toBeGreaterThanOrEqual(reports[i - 1]!.percent);
  });
});
