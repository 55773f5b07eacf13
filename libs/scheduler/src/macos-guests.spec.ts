import { DEBIAN_12, MACOS_15, macHost, request } from '../test/fixtures';
import { explanationForProject } from './explanation';
import { HostSnapshot, PlacementDecision, PlacementRequest } from './placement.types';
import { Scheduler, place, withClaim } from './scheduler';

// Apple's licence: two macOS guests per Mac. The scheduler counts the ones holding a slot
// (running, paused, suspended, being created) per macOS host and refuses a third, saying why.
const MACOS_VM: PlacementRequest = request(MACOS_15, { technology: 'vm', resources: { vcpus: 2, memoryMiB: 4096, diskGiB: 40 } });
const LINUX_VM: PlacementRequest = request(DEBIAN_12, { technology: 'vm', resources: { vcpus: 1, memoryMiB: 1024, diskGiB: 10 } });
const mac = (name: string, macosGuests: number): HostSnapshot => macHost(name, macosGuests > 0 ? { macosGuests } : {});

interface Case {
  name: string;
  hosts: HostSnapshot[];
  request?: PlacementRequest;
  /** The host chosen, or null for a refusal. */
  chosen: string | null;
  /** The explanation's summary (a refusal) or its macos-guests rejection (a placement). */
  explanation?: string;
}

const CASES: Case[] = [
  { name: 'a Mac with no macOS guest takes one', hosts: [mac('mac-1', 0)], chosen: 'mac-1' },
  { name: 'a Mac with one macOS guest takes a second', hosts: [mac('mac-1', 1)], chosen: 'mac-1' },
  {
    name: 'a Mac with two refuses a third',
    hosts: [mac('mac-1', 2)],
    chosen: null,
    explanation: '0 of 1 hosts fit: 1 is a Mac at the macOS licence limit: host mac-1 already runs 2 macOS guests, the most macOS allows',
  },
  {
    name: 'a full Mac sends the guest to one with a free slot',
    hosts: [mac('mac-1', 2), mac('mac-2', 1)],
    chosen: 'mac-2',
    explanation: 'is a Mac at the macOS licence limit: host mac-1 already runs 2 macOS guests, the most macOS allows',
  },
  {
    name: 'three full Macs are named',
    hosts: [mac('mac-1', 2), mac('mac-2', 2), mac('mac-3', 3)],
    chosen: null,
    explanation: '0 of 3 hosts fit: 3 are Macs at the macOS licence limit: hosts mac-1, mac-2 and mac-3 already run 2 macOS guests each, the most macOS allows',
  },
  {
    name: 'more full Macs than are named are counted',
    hosts: ['a', 'b', 'c', 'd', 'e'].map((n) => mac(`mac-${n}`, 2)),
    chosen: null,
    explanation: '0 of 5 hosts fit: 5 are Macs at the macOS licence limit: hosts mac-a, mac-b, mac-c and 2 more already run 2 macOS guests each, the most macOS allows',
  },
  { name: 'a Linux VM still goes to a Mac full of macOS guests', hosts: [mac('mac-1', 2)], request: LINUX_VM, chosen: 'mac-1' },
  {
    name: 'a pinned full Mac is refused with the reason',
    hosts: [mac('mac-1', 2), mac('mac-2', 0)],
    request: { ...MACOS_VM, hostId: 'mac-1' },
    chosen: null,
    explanation: '0 of 2 hosts fit: 1 is not the pinned host mac-1; 1 is a Mac at the macOS licence limit: host mac-1 already runs 2 macOS guests, the most macOS allows',
  },
];

describe('the two-macOS-guests rule', () => {
  it.each(CASES)('$name', ({ hosts, request: req, chosen, explanation }) => {
    const decision = place(req ?? MACOS_VM, hosts);
    expect(decision.ok ? decision.hostId : null).toBe(chosen);
    if (!decision.ok) expect(decision.explanation.summary).toBe(explanation);
    else if (explanation) expect(decision.explanation.rejections).toContainEqual({ code: 'macos-guests', count: 1, message: explanation });
  });

  it('counts the guests it places: a batch fills each Mac with two, then refuses', () => {
    const scheduler = new Scheduler([mac('mac-1', 0), mac('mac-2', 1)]);
    const decisions = scheduler.placeMany(MACOS_VM, 4);
    expect(decisions.map((d) => (d.ok ? d.hostId : null)).sort()).toEqual(['mac-1', 'mac-1', 'mac-2', null]);
    const refused = decisions.find((d) => !d.ok)!;
    expect(refused.explanation.summary).toBe('0 of 2 hosts fit: 2 are Macs at the macOS licence limit: hosts mac-1 and mac-2 already run 2 macOS guests each, the most macOS allows');
    expect([scheduler.host('mac-1')!.macosGuests, scheduler.host('mac-2')!.macosGuests]).toEqual([2, 2]);
  });

  it('counts them one by one too, and in a copy of the snapshot (withClaim)', () => {
    const scheduler = new Scheduler([mac('mac-1', 1)]);
    const first = scheduler.place(MACOS_VM);
    if (!first.ok) throw new Error(first.reason);
    expect(first.macosGuest).toBe(true);
    expect(withClaim(mac('mac-1', 1), first).macosGuests).toBe(2);
    scheduler.commit(first);
    expect(scheduler.place(MACOS_VM).ok).toBe(false);
    // A Linux guest takes no macOS slot.
    const linux = scheduler.place(LINUX_VM);
    expect(linux.ok && linux.macosGuest).toBe(undefined);
  });

  it("tells a project that a Mac is full without naming the fleet's hosts", () => {
    const decision: PlacementDecision = place(MACOS_VM, [mac('secret-mac', 2)]);
    const seen = explanationForProject(decision.explanation, null);
    expect(seen.summary).toBe('no host fits: a Mac already runs 2 macOS guests, the most macOS allows');
    expect(JSON.stringify(seen)).not.toContain('secret-mac');
  });
});
