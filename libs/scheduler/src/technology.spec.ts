import { IsolationNeeds, NEEDS_DEDICATED_KERNEL } from '@hyperplane/domain';
import { DEBIAN_12, MACOS_15, WINDOWS_SERVER_2022, linuxHost, lxc, macHost, qemu, request, windowsHost } from '../test/fixtures';
import { place } from './scheduler';

const fleet = [linuxHost('l1'), linuxHost('l2'), windowsHost('w1'), macHost('m1')];

describe('technology auto', () => {
  it('chooses a container when the workload can share the host kernel and a host fits', () => {
    const decision = place(request(DEBIAN_12, { technology: 'auto' }), fleet);
    expect(decision.ok && decision.technology).toBe('container');
    expect(decision.explanation.technology).toEqual({
      chosen: 'container',
      reason: 'a container: the workload can share the host kernel and 2 Linux hosts can run debian-12 containers',
    });
  });

  it.each<[string, IsolationNeeds, string]>([
    ['a dedicated kernel', { kernel: 'dedicated' }, 'a VM: the request asks for a dedicated kernel, which only a VM has'],
    ['strict security', { security: 'strict' }, 'a VM: the request asks for strict security isolation'],
    ...NEEDS_DEDICATED_KERNEL.map((need): [string, IsolationNeeds, string] => [
      need,
      { kernel: 'shared', needs: [need] },
      `a VM: the request needs ${need}, which a container sharing the host kernel cannot have`,
    ]),
  ])('chooses a VM when the request needs %s, and says so', (_, isolation, reason) => {
    const decision = place(request(DEBIAN_12, { technology: 'auto', isolation }), fleet);
    expect(decision.ok && [decision.technology, decision.driver]).toEqual(['vm', 'qemu']);
    expect(decision.explanation.technology?.reason.startsWith(reason)).toBe(true);
  });

  it.each<IsolationNeeds>([{ needs: ['own-os-family'] }, { needs: ['realtime'] }, { kernel: 'shared', security: 'standard' }])(
    'still chooses a container for needs a shared kernel can meet: %j',
    (isolation) => {
      expect(place(request(DEBIAN_12, { technology: 'auto', isolation }), fleet).ok).toBe(true);
      expect(place(request(DEBIAN_12, { technology: 'auto', isolation }), fleet).explanation.technology?.chosen).toBe('container');
    },
  );

  it('falls back to a VM when no host can take the container, and says why', () => {
    const hosts = [linuxHost('old', { kernel: '4.19.0' }), linuxHost('vmonly', { drivers: [qemu()] })];
    const decision = place(request(DEBIAN_12, { technology: 'auto' }), hosts);
    expect(decision.ok && [decision.technology, decision.hostId]).toEqual(['vm', 'old']);
    expect(decision.explanation.technology?.reason).toBe(
      'a VM: the workload could share the host kernel, but no host can take a debian-12 container: ' +
        '1 has no installed container driver; 1 runs a kernel older than 5.10, which debian-12 containers need',
    );
    expect(decision.explanation.otherTechnology).toEqual({
      technology: 'container',
      summary:
        '0 of 2 hosts fit: 1 has no installed container driver; 1 runs a kernel older than 5.10, which debian-12 containers need',
      rejections: [
        expect.objectContaining({ code: 'driver', count: 1 }),
        expect.objectContaining({ code: 'kernel', count: 1 }),
      ],
    });
  });

  it('chooses a VM for a template offered only as a VM', () => {
    const decision = place(request(MACOS_15, { technology: 'auto' }), fleet);
    expect(decision.ok && [decision.technology, decision.hostId]).toEqual(['vm', 'm1']);
    expect(decision.explanation.technology?.reason).toBe('a VM: macos-15 is not offered as a container');
  });

  it('places a Windows container for auto on a Windows host of the same build', () => {
    const decision = place(request(WINDOWS_SERVER_2022, { technology: 'auto' }), fleet);
    expect(decision.ok && [decision.technology, decision.hostId, decision.driver]).toEqual(['container', 'w1', 'wincontainer']);
  });

  it('refuses an explicit container whose isolation needs a dedicated kernel', () => {
    const decision = place(request(DEBIAN_12, { technology: 'container', isolation: { needs: ['kernel-modules'] } }), fleet);
    expect(decision.ok).toBe(false);
    expect(decision.explanation.rejections).toEqual([
      {
        code: 'isolation',
        count: 4,
        message:
          'cannot run it as a container: the request needs kernel-modules, which a container sharing the host kernel cannot have',
      },
    ]);
    expect(decision.explanation.technology?.reason).toContain('a container was requested, but the request needs kernel-modules');
  });

  it('fails auto for a container-only template whose isolation needs a dedicated kernel', () => {
    const containerOnly = { ...DEBIAN_12, technologies: ['container' as const] };
    const decision = place(request(containerOnly, { technology: 'auto', isolation: { kernel: 'dedicated' } }), fleet);
    expect(decision.ok).toBe(false);
    expect(decision.explanation.rejections.map((r) => r.code)).toEqual(['isolation']);
  });

  it('honours an explicit VM even where a container would fit', () => {
    const decision = place(request(DEBIAN_12, { technology: 'vm' }), [linuxHost('l', { drivers: [lxc(), qemu()] })]);
    expect(decision.ok && [decision.technology, decision.driver]).toEqual(['vm', 'qemu']);
    expect(decision.explanation.technology?.reason).toBe('a VM: requested explicitly');
  });
});
