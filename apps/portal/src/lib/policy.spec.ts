import { formFromOverrides, overridesFromForm } from './policy';

describe('placement policy form', () => {
  it('round-trips overrides, leaving out what is blank (the global value)', () => {
    const overrides = { strategy: 'spread', ratios: { vm: { vcpus: 4 } }, maxInstancesPerHost: 50 };
    const form = formFromOverrides(overrides);
    expect(form.strategy).toBe('spread');
    expect(form.ratios.vm.vcpus).toBe('4');
    expect(form.ratios.container.vcpus).toBe('');
    expect(overridesFromForm(form)).toEqual(overrides);
    expect(overridesFromForm(formFromOverrides({}))).toEqual({});
    expect(overridesFromForm(formFromOverrides(null))).toEqual({});
  });

  it('sends what does not parse as typed, for the API to name the field', () => {
    const form = formFromOverrides({});
    form.ratios.container.memoryMiB = 'lots';
    form.maxInstancesPerHost = ' 12 ';
    expect(overridesFromForm(form)).toEqual({ maxInstancesPerHost: 12, ratios: { container: { memoryMiB: 'lots' } } });
  });
});
