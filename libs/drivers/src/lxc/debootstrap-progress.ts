/** How far a debootstrap run is, from its `I:` lines: a percent of the whole run and a short step. */
export interface BuildProgress {
  percent: number;
  step: string;
}

type Counted = 'extracting' | 'unpacking' | 'configuring';
type Phase = 'metadata' | 'downloading' | 'installing' | Counted | 'done';

/** Where each phase starts and ends, in percent of the run (downloading takes the longest). */
const SPAN: Record<Phase, [number, number]> = {
  metadata: [0, 5],
  downloading: [5, 50],
  extracting: [50, 60],
  installing: [60, 61],
  unpacking: [61, 78],
  configuring: [78, 99],
  done: [100, 100],
};

/** "Unpacking required packages...", "Configuring the base system...": a group, not a package. */
const GROUP = /^(required packages|the base system|base system)$/;

/**
 * Reads debootstrap's output (`I: Retrieving adduser 3.134`, `I: Extracting apt...`,
 * `I: Unpacking …`, `I: Configuring …`, `I: Base system installed successfully.`) line by line
 * and says what it is doing and how far along it is. debootstrap does not print how many
 * packages it will fetch: until the downloads end the total is `expected` (a guess), after
 * that the packages counted while downloading.
 */
export class DebootstrapProgress {
  private readonly packages = new Set<string>();
  /** Packages extracted, unpacked, configured: required ones, then base ones, counted together. */
  private readonly counts: Record<Counted, number> = { extracting: 0, unpacking: 0, configuring: 0 };
  private last = -1;

  constructor(private readonly expected = 120) {}

  /** The progress after `line`, or null when the line says nothing new. */
  feed(line: string): BuildProgress | null {
    const m = /^I: (\S+)(?: (.*))?$/.exec(line.trim());
    if (!m) return null;
    const verb = m[1] ?? '';
    const args = (m[2] ?? '').trim().replace(/\.\.\.$/, '');
    switch (verb) {
      case 'Retrieving':
      case 'Validating': {
        // "Retrieving InRelease " (index files) has no version; a package has one.
        const [name, version] = args.split(/\s+/);
        if (!name || !version) return this.report('metadata', 'downloading the package index');
        this.packages.add(name);
        return this.report('downloading', `downloading packages (${this.packages.size} so far)`, this.packages.size, Math.max(this.expected, this.packages.size + 1));
      }
      case 'Resolving':
        return this.report('metadata', 'resolving dependencies');
      case 'Extracting':
        return this.counted('extracting', 'extracting');
      case 'Installing':
        return this.report('installing', 'installing core packages');
      case 'Unpacking':
        return GROUP.test(args) ? null : this.counted('unpacking', 'unpacking');
      case 'Configuring':
        return GROUP.test(args) ? null : this.counted('configuring', 'configuring');
      case 'Base':
        return /installed successfully/.test(args) ? this.report('done', 'root filesystem installed') : null;
      default:
        return null;
    }
  }

  private counted(phase: Counted, verb: string): BuildProgress | null {
    const done = ++this.counts[phase];
    const total = Math.max(this.packages.size, done);
    // Of about as many as were downloaded: a few are installed without a line of their own.
    return this.report(phase, `${verb} packages (${done} of ~${total})`, done, total);
  }

  private report(phase: Phase, step: string, done = 0, total = 0): BuildProgress {
    const [from, to] = SPAN[phase];
    const percent = Math.floor(from + (total > 0 ? ((to - from) * Math.min(done, total)) / total : 0));
    // Never backwards (a later phase's first package must not undo the last one's 100 %).
    const at = Math.max(this.last, percent);
    this.last = at;
    return { percent: at, step };
  }
}
