import { OperationAborts } from './operation-aborts';

describe('OperationAborts', () => {
  it('aborts the signal of a command that runs', () => {
    const aborts = new OperationAborts();
    const signal = aborts.start('op-1');
    expect(signal.aborted).toBe(false);
    expect(aborts.abort('op-1')).toBe(true);
    expect(signal.aborted).toBe(true);
  });

  it('aborts at once a command that starts after its operation was cancelled', () => {
    const aborts = new OperationAborts();
    expect(aborts.abort('op-2')).toBe(false);
    expect(aborts.start('op-2').aborted).toBe(true);
  });

  it('leaves other operations alone, and forgets a command that ended', () => {
    const aborts = new OperationAborts();
    const one = aborts.start('op-3');
    const other = aborts.start('op-4');
    aborts.end('op-3', one);
    expect(aborts.abort('op-3')).toBe(false);
    expect(one.aborted).toBe(false);
    expect(other.aborted).toBe(false);
  });
});
